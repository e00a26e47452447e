"""Checking STIX objects: the fast path agrees with stix2-validator's own ``validate_instance``.

parley runs stix2-validator's schemas and MUST checks with the schemas loaded once
(parley.intel.stix); here every object, valid or not, gets the same verdict both ways.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from parley.intel.stix import (
    BadTimestamp,
    Refused,
    Validator,
    normal_timestamp,
    parse_timestamp,
    shown,
)

from .test_taxii import address, indicator, location, threat_actor

NOW = "2026-01-01T00:00:00.000Z"


def sdo(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": NOW,
        "modified": NOW,
        **fields,
    }


def valid() -> list[dict[str, Any]]:
    actor = threat_actor()
    place = location()
    return [
        indicator(),
        actor,
        place,
        address(),
        sdo("report", name="r", published=NOW, object_refs=[actor["id"]]),
        sdo("note", content="seen near the crossing", object_refs=[place["id"]]),
        sdo("opinion", opinion="agree", object_refs=[place["id"]]),
        sdo(
            "relationship",
            relationship_type="located-at",
            source_ref=actor["id"],
            target_ref=place["id"],
        ),
        sdo("sighting", sighting_of_ref=f"indicator--{uuid.uuid4()}", count=2),
        sdo("identity", name="alpha cell", identity_class="organization"),
        sdo("incident", name="shelling"),
        sdo("x-parley-custom", name="custom objects are allowed"),
        dict(threat_actor(), x_parley_note="custom properties are allowed"),
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            "created": "2022-10-01T00:00:00.000Z",
            "name": "TLP:AMBER+STRICT",
            "extensions": {
                "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                    "extension_type": "property-extension",
                    "tlp_2_0": "amber+strict",
                }
            },
        },
        sdo(
            "observed-data",
            first_observed=NOW,
            last_observed=NOW,
            number_observed=1,
            object_refs=[address()["id"]],
        ),
    ]


def broken() -> list[dict[str, Any]]:
    objects = []
    for mutate in [
        lambda o: o.pop("created"),
        lambda o: o.update(modified="2025-01-01T00:00:00.000Z"),
        lambda o: o.update(created="yesterday"),
        lambda o: o.update(pattern="[ipv4-addr:value = "),
        lambda o: o.update(valid_until="2025-01-01T00:00:00Z"),
        lambda o: o.update(indicator_types="malicious-activity"),
        lambda o: o.update(external_references=[{"url": "https://example.org"}]),
        lambda o: o.update(object_marking_refs=["not-a-reference"]),
        lambda o: o.update(lang=7),
    ]:
        obj = indicator()
        mutate(obj)
        objects.append(obj)
    objects.append(dict(address(), value="not an address"))
    objects.append(sdo("relationship", relationship_type="located-at"))
    objects.append(sdo("threat-actor"))  # no name
    objects.append(sdo("location"))  # no coordinates, region or country
    objects.append(sdo("report", name="r", published=NOW, object_refs=[]))
    return objects


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


@pytest.mark.parametrize("index", range(len(valid())))
def test_valid_objects_pass_both_ways(validator: Validator, index: int) -> None:
    obj = valid()[index]
    assert validator.reference_errors(copy.deepcopy(obj)) == []
    assert validator.errors(copy.deepcopy(obj)) == []
    checked = validator.check(obj)
    assert (checked.id, checked.type, checked.spec_version) == (obj["id"], obj["type"], "2.1")


@pytest.mark.parametrize("index", range(len(broken())))
def test_invalid_objects_fail_both_ways(validator: Validator, index: int) -> None:
    obj = broken()[index]
    reference = validator.reference_errors(copy.deepcopy(obj))
    fast = validator.errors(copy.deepcopy(obj))
    assert reference, "the reference validator accepts this object: not a useful case"
    assert fast  # same verdict; the wording is held in test_stix_schema_agreement.py
    with pytest.raises(Refused):
        validator.check(obj)


def test_versions_and_identities(validator: Validator) -> None:
    obj = indicator()
    obj["modified"] = "2026-01-01T00:00:01.500Z"
    assert validator.check(obj).version == "2026-01-01T00:00:01.500000Z"
    assert validator.check(address()).version is None
    for bad in [
        "text",
        {"type": "indicator"},
        dict(indicator(), id="indicator--not-a-uuid"),
        dict(indicator(), id=f"malware--{uuid.uuid4()}"),
        {**threat_actor(), "spec_version": "2.0"},
        {k: v for k, v in threat_actor().items() if k != "spec_version"},
    ]:
        with pytest.raises(Refused):
            validator.check(bad)


def test_timestamps() -> None:
    assert normal_timestamp("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000000Z"
    assert normal_timestamp("2026-01-01T00:00:00.123456789Z") == "2026-01-01T00:00:00.123456Z"
    assert shown("2026-01-01T00:00:00.120000Z") == "2026-01-01T00:00:00.120Z"
    assert shown("2026-01-01T00:00:00.123456Z") == "2026-01-01T00:00:00.123456Z"
    for bad in ("2026-01-01", "2026-01-01T00:00:00+01:00", "2026-02-30T00:00:00Z", 5):
        with pytest.raises(BadTimestamp):
            parse_timestamp(bad)
