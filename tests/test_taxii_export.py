"""parley's records as STIX 2.1: valid objects, the geometry extension, TLP from audiences, the
signed submission cited, and nothing outside the viewer's audience."""

from __future__ import annotations

import hashlib
from typing import Any

from parley.intel import export
from parley.intel.stix import Validator

from .conftest import PartyHandle
from .conftest import Server as Hub
from .test_screening_hub import HOSPITAL, operation, site

AREA = {
    "rule": "no-operations",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[37.0, 36.0], [37.3, 36.0], [37.3, 36.3], [37.0, 36.3], [37.0, 36.0]]],
    },
    "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
}
INCIDENT = {
    "description": "Shelling reported near the market",
    "time": "2026-03-01T10:00:00Z",
    "location": {"type": "Point", "coordinates": [37.16, 36.2]},
    "evidence": [],
    "casualties": {"killed": 0, "injured": 2},
}


def of_type(found: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in found["objects"] if o["type"] == kind]


def test_records_export_as_valid_stix(server: Hub, parties: dict[str, PartyHandle]) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    with server.client(relief) as r, server.client(alpha) as a:
        public = r.submit("site", site(*HOSPITAL), "all")
        private = r.submit("site", site(37.5, 36.5, name="Clinic"), ["alpha"])
        area = a.submit("area", AREA, "all")
        incident = a.submit("incident", INCIDENT, "all")
        a.submit("operation", operation(HOSPITAL[0], HOSPITAL[1], 1000), "all")

    hub = server.hub
    seen = export.bundle(hub, hub.parties()["alpha"], base_url=server.url)
    validator = Validator()
    for obj in seen["objects"]:
        assert validator.errors(obj) == [], obj  # stix2-validator: no error
        validator.check(obj)  # and the stix2 library parses it
    assert seen["type"] == "bundle"

    (definition,) = of_type(seen, "extension-definition")
    assert definition["id"] == export.EXTENSION_ID
    assert definition["extension_types"] == ["property-extension"]

    places = {o["external_references"][0]["external_id"]: o for o in of_type(seen, "location")}
    assert set(places) == {public["id"], private["id"], area["id"]}
    hospital = places[public["id"]]
    geometry = hospital["extensions"][export.EXTENSION_ID]
    assert geometry["geometry"] == {"type": "Point", "coordinates": list(HOSPITAL)}
    assert geometry["record_kind"] == "site" and geometry["radius_m"] == 300
    assert (hospital["longitude"], hospital["latitude"]) == HOSPITAL
    polygon = places[area["id"]]["extensions"][export.EXTENSION_ID]
    assert polygon["geometry"] == AREA["geometry"] and polygon["rule"] == "no-operations"

    # TLP follows the audience.
    assert hospital["object_marking_refs"] == [export.TLP_GREEN]
    assert places[private["id"]]["object_marking_refs"] == [export.TLP_AMBER_STRICT]
    assert {m["id"] for m in of_type(seen, "marking-definition")} >= {
        export.TLP_GREEN,
        export.TLP_AMBER_STRICT,
    }

    # Each object cites its submission: id, link, and the digest of the exact signed bytes.
    record = hub.store.get_submission(public["id"], "alpha")
    assert record is not None
    reference = hospital["external_references"][0]
    assert reference["hashes"]["SHA-256"] == hashlib.sha256(record.jws.encode()).hexdigest()
    assert reference["url"] == f"{server.url}/api/v1/submissions/{public['id']}"
    assert hospital["created_by_ref"] == export._party_ref("relief")

    (reported,) = of_type(seen, "incident")
    assert reported["description"] == INCIDENT["description"]
    assert reported["external_references"][0]["external_id"] == incident["id"]

    # The operation met the hospital (and the area): notes about them, as alpha may see them.
    notes = of_type(seen, "note")
    assert any(hospital["id"] in n["object_refs"] for n in notes)
    present = {o["id"] for o in seen["objects"]}
    assert all(set(n["object_refs"]) <= present for n in notes)

    # The same records export to the same ids.
    again = export.bundle(hub, hub.parties()["alpha"])
    assert {o["id"] for o in of_type(again, "location")} == set(o["id"] for o in places.values())

    # bravo is outside the clinic's audience: not a trace of it.
    theirs = export.bundle(hub, hub.parties()["bravo"])
    text = str(theirs)
    assert private["id"] not in text and "Clinic" not in text
    assert {o["external_references"][0]["external_id"] for o in of_type(theirs, "location")} == {
        public["id"],
        area["id"],
    }
