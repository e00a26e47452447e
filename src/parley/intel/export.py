"""parley's own records as STIX 2.1: protected sites, areas, incidents and conflicts.

A party gets the records it may see (the store's audience check, through ``list_submissions``
and its own conflicts), as one STIX bundle:

* a site, an area, or each area of an area map becomes a ``location``; an incident an
  ``incident``; a conflict a ``note`` about the records it names (only those the party may see,
  worded by screening's audience-safe view);
* the geometry STIX cannot say (polygons, radius, altitude, validity, rule) travels in the
  ``parley geometry`` property extension, defined by :data:`EXTENSION_ID` and published in every
  bundle (its JSON Schema is :data:`GEOMETRY_SCHEMA`; docs/taxii.md);
* a TLP 2.0 marking follows the audience: every party is the sharing community, ``TLP:GREEN``;
  a list of parties is limited to those parties' organisations, ``TLP:AMBER+STRICT``;
* each object cites the signed submission it comes from: an external reference with the
  submission id and the SHA-256 of its exact JWS, so anyone holding the record can check it.

Ids are UUIDv5 of the submission id, so exporting twice gives the same objects.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

from shapely.geometry import shape

from parley.hub.core import Hub
from parley.store.db import Party, StoredConflict, Submission

NAMESPACE = uuid.UUID("6c1a0f3e-5d0e-4a52-9b1e-706172736c65")
EXPORTED = ("site", "area", "area-map", "incident")
PUBLISHED = "2026-11-25T00:00:00.000Z"

PARLEY_IDENTITY = f"identity--{uuid.uuid5(NAMESPACE, 'parley')}"
EXTENSION_ID = f"extension-definition--{uuid.uuid5(NAMESPACE, 'geometry-1.0')}"
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"

GEOMETRY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "parley geometry (STIX 2.1 property extension)",
    "type": "object",
    "required": ["extension_type", "record_kind", "geometry"],
    "properties": {
        "extension_type": {"const": "property-extension"},
        "record_kind": {"enum": ["site", "area", "area-map", "incident"]},
        "geometry": {
            "description": "GeoJSON (RFC 7946) geometry, WGS 84 longitude/latitude",
            "type": "object",
            "required": ["type"],
        },
        "radius_m": {"type": "number", "minimum": 0},
        "ceiling_m": {"type": "number"},
        "altitude": {
            "type": "object",
            "properties": {"lower_m": {"type": "number"}, "upper_m": {"type": "number"}},
        },
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": ["string", "null"], "format": "date-time"},
        "category": {"type": "string"},
        "rule": {"enum": ["no-fly", "no-operations", "delineation"]},
        "rule_party": {"type": "string"},
        "group": {"type": "string"},
        "map": {"type": "string"},
        "map_version": {"type": "integer"},
        "area": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
    },
}


def bundle(hub: Hub, viewer: Party, *, base_url: str | None = None) -> dict[str, Any]:
    """Everything ``viewer`` may see, as a STIX 2.1 bundle (the CLI's ``export --format stix``).

    ``base_url`` (the hub's public URL) makes each record's external reference a link.
    """
    objects: dict[str, dict[str, Any]] = {}
    for obj in _header(hub):
        objects[obj["id"]] = obj
    exported: dict[str, list[str]] = {}
    for sub in _visible(hub, viewer):
        made = list(_record(hub, sub, base_url))
        exported[sub.id] = [obj["id"] for obj in made]
        objects.update((obj["id"], obj) for obj in made)
    for conflict in _conflicts(hub, viewer):
        note = _conflict(hub, viewer, conflict, exported)
        if note is not None:
            objects[note["id"]] = note
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": list(objects.values()),
    }


def extension_definition() -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION_ID,
        "created_by_ref": PARLEY_IDENTITY,
        "created": PUBLISHED,
        "modified": PUBLISHED,
        "name": "parley geometry",
        "description": "Where and when a parley record applies: GeoJSON geometry (polygons "
        "included), radius, altitude band and validity, with the record's rule or category.",
        "schema": json.dumps(GEOMETRY_SCHEMA, sort_keys=True),
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


# -- the fixed objects every bundle carries ---------------------------------------------------


def _header(hub: Hub) -> list[dict[str, Any]]:
    parley = {
        "type": "identity",
        "spec_version": "2.1",
        "id": PARLEY_IDENTITY,
        "created": PUBLISHED,
        "modified": PUBLISHED,
        "name": "parley",
        "description": "The parley project, publisher of the parley geometry extension.",
        "identity_class": "organization",
    }
    markings = [
        _tlp(TLP_GREEN, "TLP:GREEN", "green"),
        _tlp(TLP_AMBER_STRICT, "TLP:AMBER+STRICT", "amber+strict"),
    ]
    parties = [_identity(p) for p in hub.parties().values()]
    return [parley, extension_definition(), *markings, *parties]


def _tlp(marking_id: str, name: str, level: str) -> dict[str, Any]:
    """A TLP 2.0 marking definition as OASIS publishes it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": name,
        "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    }


def _identity(party: Party) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": _party_ref(party.id),
        "created": _ms(party.created_at),
        "modified": _ms(party.created_at),
        "name": party.name,
        "description": f"parley party {party.id!r} ({party.role})",
        "identity_class": "organization",
    }


def _party_ref(party_id: str) -> str:
    return f"identity--{uuid.uuid5(NAMESPACE, 'party:' + party_id)}"


# -- records -----------------------------------------------------------------------------------


def _visible(hub: Hub, viewer: Party) -> Iterator[Submission]:
    for kind in EXPORTED:
        after = -1
        while True:
            page = hub.store.list_submissions(viewer.id, after=after, limit=500, kind=kind)
            yield from page
            if len(page) < 500:
                break
            after = page[-1].log_index


def _record(hub: Hub, sub: Submission, base_url: str | None) -> Iterator[dict[str, Any]]:
    body = sub.body
    common = _common(sub, base_url)
    try:
        if sub.kind == "site":
            yield _site(sub, body, common)
        elif sub.kind == "area":
            yield _area(sub, body, common, sub.id)
        elif sub.kind == "area-map":
            for area in body.get("areas", []):
                extra = {"map": body.get("map"), "map_version": body.get("version")}
                with_validity = {**area, "valid": body.get("valid")}
                yield _area(sub, with_validity, common, f"{sub.id}/{area['id']}", extra)
        elif sub.kind == "incident":
            yield _incident(sub, body, common)
    except (KeyError, TypeError, ValueError, AttributeError):
        return  # a record the hub accepted is well formed; never let one break an export


def _common(sub: Submission, base_url: str | None) -> dict[str, Any]:
    reference: dict[str, Any] = {
        "source_name": "parley",
        "description": (
            f"{sub.kind} submission by {sub.party_id}, log index {sub.log_index}, received "
            f"{sub.received_at}"
        ),
        "external_id": sub.id,
        "hashes": {"SHA-256": hashlib.sha256(sub.jws.encode("ascii")).hexdigest()},
    }
    if base_url:
        reference["url"] = f"{base_url.rstrip('/')}/api/v1/submissions/{sub.id}"
    return {
        "spec_version": "2.1",
        "created_by_ref": _party_ref(sub.party_id),
        "created": _ms(sub.received_at),
        "modified": _ms(sub.received_at),
        "external_references": [reference],
        "object_marking_refs": [TLP_GREEN if sub.audience_all else TLP_AMBER_STRICT],
    }


def _site(sub: Submission, body: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    geometry = body["geometry"]
    extension = _extension(
        "site",
        geometry,
        radius_m=body.get("radius_m"),
        ceiling_m=body.get("ceiling_m"),
        category=body.get("category"),
        **_validity(body.get("valid")),
    )
    return _location(
        sub.id,
        body.get("name") or "protected site",
        geometry,
        extension,
        common,
        {
            "description": f"Protected site ({body.get('category', 'unspecified')}) notified by "
            f"{sub.party_id}",
            "precision": body.get("radius_m"),
        },
    )


def _area(
    sub: Submission,
    body: dict[str, Any],
    common: dict[str, Any],
    key: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    geometry = body["geometry"]
    rule = body.get("rule")
    extension = _extension(
        sub.kind,
        geometry,
        rule=rule,
        rule_party=body.get("party"),
        group=body.get("group"),
        altitude=body.get("altitude"),
        area=body.get("id"),
        **(extra or {}),
        **_validity(body.get("valid")),
    )
    name = body.get("name") or f"{rule} area" + (f" ({body['id']})" if body.get("id") else "")
    return _location(
        key,
        name,
        geometry,
        extension,
        common,
        {
            "description": f"Area ({rule}) proposed by {sub.party_id}",
        },
    )


def _incident(sub: Submission, body: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    extension = _extension("incident", body["location"], time=body.get("time"))
    return {
        "type": "incident",
        "id": f"incident--{uuid.uuid5(NAMESPACE, sub.id)}",
        **common,
        "name": body.get("title") or f"Incident reported by {sub.party_id}",
        "description": body.get("description", ""),
        "extensions": {EXTENSION_ID: extension},
    }


def _location(
    key: str,
    name: str,
    geometry: dict[str, Any],
    extension: dict[str, Any],
    common: dict[str, Any],
    more: dict[str, Any],
) -> dict[str, Any]:
    # STIX locations carry one point: a representative point of the shape (inside it, unlike
    # a centroid); the shape itself is in the extension.
    point = shape(geometry).representative_point()
    found = {
        "type": "location",
        "id": f"location--{uuid.uuid5(NAMESPACE, key)}",
        **common,
        "name": name,
        "latitude": round(point.y, 7),
        "longitude": round(point.x, 7),
        **{k: v for k, v in more.items() if v is not None},
        "extensions": {EXTENSION_ID: extension},
    }
    return found


def _extension(kind: str, geometry: dict[str, Any], **fields: Any) -> dict[str, Any]:
    found = {"extension_type": "property-extension", "record_kind": kind, "geometry": geometry}
    found.update({k: v for k, v in fields.items() if v is not None})
    return found


def _validity(valid: object) -> dict[str, Any]:
    if not isinstance(valid, dict):
        return {}
    return {"valid_from": valid.get("start"), "valid_until": valid.get("end")}


# -- conflicts ---------------------------------------------------------------------------------


def _conflicts(hub: Hub, viewer: Party) -> Iterator[StoredConflict]:
    hub.screening.refresh()
    after = 0
    while True:
        page = hub.store.conflicts_for(viewer.id, after=after, limit=500)
        for _, conflict in page:
            yield conflict
        if len(page) < 500:
            return
        after = page[-1][0]


def _conflict(
    hub: Hub, viewer: Party, conflict: StoredConflict, exported: dict[str, list[str]]
) -> dict[str, Any] | None:
    """A note on the records a conflict names, worded as the viewer may see it."""
    view = hub.screening.view(conflict, viewer.id)
    refs = [ref for key in (view["record"], view["other"]) if key for ref in exported.get(key, [])]
    if not refs:
        refs = [_party_ref(viewer.id)]  # the conflict concerns the viewer's own records
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid5(NAMESPACE, 'conflict:' + conflict.id)}",
        "created": _ms(conflict.created_at),
        "modified": _ms(conflict.created_at),
        "abstract": f"{view['severity']} {view['kind']} conflict",
        "content": view["detail"],
        "authors": ["parley screening"],
        "object_refs": refs,
        "external_references": [
            {
                "source_name": "parley",
                "description": "conflict raised by screening",
                "external_id": conflict.id,
            }
        ],
        "object_marking_refs": [TLP_AMBER_STRICT],
    }


def _ms(text: str) -> str:
    """parley times have microseconds; STIX wants milliseconds."""
    return text[:23] + "Z" if len(text) > 24 else text
