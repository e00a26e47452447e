"""Incident reports and their joint review, rule by rule: an observer asks a party, that party
answers, an observer assesses; nobody outside the incident learns it exists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from parley.errors import Forbidden, InvalidSubmission, NotFound, ParleyError
from parley.records import incidents

DIGEST = "ab" * 32

REVIEWS = [
    # (story, role, party, body, request_to, visible, refused with, words)
    (
        "an observer asks a party",
        "observer",
        "monitor",
        {"step": "request", "to": "alpha", "text": "Were you flying here?"},
        None,
        True,
        None,
        "",
    ),
    (
        "the party asked answers",
        "member",
        "alpha",
        {"step": "answer", "request": "r1", "text": "Yes"},
        "alpha",
        True,
        None,
        "",
    ),
    (
        "an observer records a finding",
        "observer",
        "monitor",
        {"step": "assessment", "finding": "not-substantiated"},
        None,
        True,
        None,
        "",
    ),
    (
        "a party outside the incident sees no incident",
        "member",
        "bravo",
        {"step": "answer", "request": "r1"},
        "alpha",
        False,
        NotFound,
        "no incident",
    ),
    (
        "invisibility wins over every other fault",
        "member",
        "bravo",
        {"step": "assessment", "finding": "maybe"},
        None,
        False,
        NotFound,
        "no incident",
    ),
    (
        "a member cannot assess",
        "member",
        "alpha",
        {"step": "assessment", "finding": "inconclusive"},
        None,
        True,
        Forbidden,
        "only observers make a assessment",
    ),
    (
        "a member cannot send a request",
        "member",
        "alpha",
        {"step": "request", "to": "bravo"},
        None,
        True,
        Forbidden,
        "only observers make a request",
    ),
    (
        "a request names whom it asks",
        "observer",
        "monitor",
        {"step": "request"},
        None,
        True,
        InvalidSubmission,
        "names the party it asks",
    ),
    (
        "'maybe' is not a finding",
        "observer",
        "monitor",
        {"step": "assessment", "finding": "maybe"},
        None,
        True,
        InvalidSubmission,
        "finding must be one of",
    ),
    (
        "an unknown step",
        "observer",
        "monitor",
        {"step": "verdict"},
        None,
        True,
        InvalidSubmission,
        "step must be one of",
    ),
    (
        "an answer to a request that does not exist",
        "member",
        "alpha",
        {"step": "answer", "request": "nope"},
        None,
        True,
        NotFound,
        "no request 'nope'",
    ),
    (
        "only the party asked may answer",
        "member",
        "bravo",
        {"step": "answer", "request": "r1"},
        "alpha",
        True,
        Forbidden,
        "only the party a request is addressed to",
    ),
    (
        "an observer cannot answer for the party asked",
        "observer",
        "monitor",
        {"step": "answer", "request": "r1"},
        "alpha",
        True,
        Forbidden,
        "addressed to",
    ),
]


@pytest.mark.parametrize(
    ("role", "party", "body", "request_to", "visible", "error", "words"),
    [r[1:] for r in REVIEWS],
    ids=[r[0] for r in REVIEWS],
)
def test_review_steps(
    role: str,
    party: str,
    body: dict[str, Any],
    request_to: str | None,
    visible: bool,
    error: type[ParleyError] | None,
    words: str,
) -> None:
    body = {"incident": "inc-1", **body}
    if error is None:
        incidents.check_review(role, party, body, request_to, visible)
        return
    with pytest.raises(error, match=words) as caught:
        incidents.check_review(role, party, body, request_to, visible)
    assert type(caught.value) is error


REPORT: dict[str, Any] = {
    "category": "strike-reported",
    "description": "Explosion near the hospital.",
    "location": {"type": "Point", "coordinates": [37.16, 36.2]},
    "time": "2026-03-01T10:30:00Z",
    "casualties": {"killed": 0, "injured": 2},
    "evidence": [DIGEST],
}
REPORTS = [
    # (story, changes to the report, refused field or None)
    ("a complete report", {}, None),
    ("casualties and evidence may be left out", {"casualties": None, "evidence": None}, None),
    ("no description", {"description": None}, "body.description"),
    ("a blank description", {"description": "   "}, "body.description"),
    ("evidence that is not a digest", {"evidence": ["not-a-digest"]}, "body.evidence"),
    ("an upper-case digest", {"evidence": [DIGEST.upper()]}, "body.evidence"),
    ("evidence as one string, not a list", {"evidence": DIGEST}, "body.evidence"),
    ("negative casualties", {"casualties": {"killed": -1}}, "body.casualties.killed"),
    ("fractional casualties", {"casualties": {"injured": 1.5}}, "body.casualties.injured"),
    ("casualties as a number, not counts", {"casualties": 3}, "body.casualties.killed"),
    (
        "an area, not a point",
        {"location": {"type": "Polygon", "coordinates": []}},
        "body.location",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field"), [r[1:] for r in REPORTS], ids=[r[0] for r in REPORTS]
)
def test_incident_reports(changes: dict[str, Any], field: str | None) -> None:
    body = {**REPORT, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    if field is None:
        incidents.check_report(body)
        return
    with pytest.raises(InvalidSubmission) as caught:
        incidents.check_report(body)
    assert caught.value.extra["field"] == field


def test_an_incident_is_correlated_within_10_km_and_6_hours() -> None:
    volume = incidents.probe(REPORT)
    assert volume.footprint is not None
    start, end = volume.window.bounds
    reported = datetime(2026, 3, 1, 10, 30, tzinfo=UTC).timestamp()
    assert (start, end) == (reported - 6 * 3600, reported + 6 * 3600)
    assert incidents.CORRELATE_WITHIN_M == 10_000.0
