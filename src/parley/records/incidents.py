"""Incidents: reported, correlated with the operations notified near them, reviewed jointly.

Review follows the 2016 Ceasefire Task Force practice: an observer sends a request for
information to a party, that party answers, and observers record an assessment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from parley import clock
from parley.errors import Forbidden, InvalidSubmission, NotFound
from parley.geo import shapes

CORRELATE_WITHIN_M = 10_000.0
CORRELATE_WITHIN = timedelta(hours=6)
FINDINGS = ("substantiated", "not-substantiated", "inconclusive")
REVIEW_STEPS = ("request", "answer", "assessment")


def probe(body: dict[str, Any]) -> shapes.Volume:
    """The space and time in which an operation could be related to the incident."""
    moment = clock.parse(body.get("time"), "body.time")
    volume = {
        "footprint": body.get("location"),
        "radius_m": CORRELATE_WITHIN_M,
        "altitude": {"lower_m": -400, "upper_m": 20_000},
        "time": {
            "start": clock.iso(moment - CORRELATE_WITHIN),
            "end": clock.iso(moment + CORRELATE_WITHIN),
        },
    }
    (parsed,) = shapes.parse_volumes({"name": "incident", "volumes": [volume]})
    return parsed


def check_report(body: dict[str, Any]) -> None:
    if not isinstance(body.get("description"), str) or not body["description"].strip():
        raise InvalidSubmission("description is required", field="body.description")
    evidence = body.get("evidence", [])
    if not isinstance(evidence, list) or not all(
        isinstance(e, str) and len(e) == 64 and all(c in "0123456789abcdef" for c in e)
        for e in evidence
    ):
        raise InvalidSubmission(
            "evidence is a list of SHA-256 digests (64 lower-case hex characters) of files the "
            "reporter keeps",
            field="body.evidence",
        )
    for key in ("killed", "injured"):
        value = (
            body.get("casualties", {}).get(key, 0)
            if isinstance(body.get("casualties", {}), dict)
            else None
        )
        if not isinstance(value, int) or value < 0:
            raise InvalidSubmission(
                f"casualties.{key} must be a whole number ≥ 0", field=f"body.casualties.{key}"
            )
    if body.get("location", {}).get("type") != "Point":
        raise InvalidSubmission("location must be a GeoJSON Point", field="body.location")


def check_review(
    role: str, party: str, body: dict[str, Any], request_to: str | None, incident_visible: bool
) -> None:
    """``request_to``: for an answer, whom the request it answers was addressed to."""
    if not incident_visible:
        raise NotFound(f"no incident {body.get('incident')!r}", field="body.incident")
    step = body.get("step")
    if step not in REVIEW_STEPS:
        raise InvalidSubmission(f"step must be one of {', '.join(REVIEW_STEPS)}", field="body.step")
    if step in ("request", "assessment") and role != "observer":
        raise Forbidden(f"only observers make a {step}", field="body.step")
    if step == "request" and not isinstance(body.get("to"), str):
        raise InvalidSubmission("a request names the party it asks (to)", field="body.to")
    if step == "assessment" and body.get("finding") not in FINDINGS:
        raise InvalidSubmission(
            f"finding must be one of {', '.join(FINDINGS)}", field="body.finding"
        )
    if step == "answer":
        if request_to is None:
            raise NotFound(f"no request {body.get('request')!r}", field="body.request")
        if request_to != party:
            raise Forbidden(
                "only the party a request is addressed to answers it", field="body.request"
            )
