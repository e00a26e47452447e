"""An operation's life, rule by rule, without a server: planned → active → completed, or
cancelled; amended only while in force; notified ahead, within the horizon, never back-dated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley.errors import Conflict, ParleyError, Unprocessable
from parley.geo import shapes
from parley.records import operations
from parley.records.operations import ACTIVE, CANCELLED, COMPLETED, PLANNED, SUPERSEDED

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HORIZON = timedelta(days=30)
SKEW = timedelta(minutes=5)

TRANSITIONS = [
    # (story, current, requested, refused with, words in the refusal)
    ("a planned operation starts", PLANNED, ACTIVE, None, ""),
    ("a planned operation is called off", PLANNED, CANCELLED, None, ""),
    ("an active operation ends", ACTIVE, COMPLETED, None, ""),
    ("an active operation is called off midway", ACTIVE, CANCELLED, None, ""),
    ("a planned operation cannot be completed unflown", PLANNED, COMPLETED, Conflict, "planned"),
    ("a completed operation cannot be re-activated", COMPLETED, ACTIVE, Conflict, "completed"),
    ("a completed operation cannot be cancelled afterwards", COMPLETED, CANCELLED, Conflict, ""),
    ("a cancelled operation cannot be revived", CANCELLED, ACTIVE, Conflict, "cancelled"),
    ("a cancelled operation cannot be completed", CANCELLED, COMPLETED, Conflict, ""),
    ("a superseded version cannot start", SUPERSEDED, ACTIVE, Conflict, "superseded"),
    ("a superseded version cannot be cancelled", SUPERSEDED, CANCELLED, Conflict, ""),
    ("an active operation cannot start twice", ACTIVE, ACTIVE, Conflict, "cannot become active"),
    ("nobody asks for 'planned'", ACTIVE, PLANNED, Unprocessable, "status must be one of"),
    ("nobody asks for 'superseded': amend instead", PLANNED, SUPERSEDED, Unprocessable, ""),
    ("a misspelt status is refused, not a conflict", PLANNED, "Active", Unprocessable, ""),
    ("an unknown current state allows nothing", "archived", ACTIVE, Conflict, "archived"),
]


@pytest.mark.parametrize(
    ("current", "new", "error", "words"),
    [row[1:] for row in TRANSITIONS],
    ids=[row[0] for row in TRANSITIONS],
)
def test_status_transitions(
    current: str, new: str, error: type[ParleyError] | None, words: str
) -> None:
    if error is None:
        operations.check_transition("op-1", current, new)
        return
    with pytest.raises(error) as caught:
        operations.check_transition("op-1", current, new)
    assert type(caught.value) is error
    assert words in caught.value.detail
    assert caught.value.extra["field"] == "body.status"
    if error is Conflict:
        assert caught.value.extra["current"] == current


def test_the_transition_table_is_the_whole_machine() -> None:
    """Every (state, request) pair is either allowed by NEXT or refused: nothing in between."""
    states = (PLANNED, ACTIVE, COMPLETED, CANCELLED, SUPERSEDED)
    for current in states:
        for new in states:
            allowed = new in operations.NEXT.get(current, frozenset())
            try:
                operations.check_transition("op", current, new)
            except (Conflict, Unprocessable):
                assert not allowed, (current, new)
            else:
                assert allowed, (current, new)
    # Terminal states stay terminal, and only these two are in force.
    assert set(operations.NEXT) == operations.IN_FORCE == {PLANNED, ACTIVE}


AMENDMENTS = [
    ("a planned operation can be amended", PLANNED, False),
    ("an active operation can be amended in flight", ACTIVE, False),
    ("a completed operation cannot be amended", COMPLETED, True),
    ("a cancelled operation cannot be amended", CANCELLED, True),
    ("an amended (superseded) version cannot be amended again", SUPERSEDED, True),
]


@pytest.mark.parametrize(
    ("current", "refused"), [r[1:] for r in AMENDMENTS], ids=[r[0] for r in AMENDMENTS]
)
def test_amendments(current: str, refused: bool) -> None:
    if not refused:
        operations.check_amendable("op-1", current)
        return
    with pytest.raises(Conflict, match="only a planned or active operation can be amended"):
        operations.check_amendable("op-1", current)


def _volume(start: timedelta, end: timedelta | None) -> shapes.Volume:
    window = {"start": (NOW + start).isoformat(), "end": (NOW + end).isoformat() if end else None}
    body = {
        "name": "Patrol",
        "volumes": [
            {
                "footprint": {"type": "Point", "coordinates": [37.16, 36.2]},
                "radius_m": 1000,
                "altitude": {"lower_m": 500, "upper_m": 3000},
                "time": window,
            }
        ],
    }
    (volume,) = shapes.parse_volumes(body)
    return volume


H = timedelta(hours=1)
D = timedelta(days=1)
HORIZONS = [
    # (story, start, end from now, refused field or None, words)
    ("notified a day ahead", D, D + H, None, ""),
    ("already flying, notified late: information, not refused", -H, H, None, ""),
    ("starting exactly at the horizon", HORIZON, HORIZON + H, None, ""),
    ("starting past the horizon", HORIZON + H, HORIZON + 2 * H, "start", "planning horizon"),
    ("ended three hours ago: back-dated", -4 * H, -3 * H, "end", "ended in the past"),
    ("ended within the allowed clock skew", -H, -SKEW + timedelta(seconds=1), None, ""),
    ("ended just beyond the clock skew", -H, -SKEW - timedelta(seconds=1), "end", "in the past"),
]


@pytest.mark.parametrize(
    ("start", "end", "field", "words"), [r[1:] for r in HORIZONS], ids=[r[0] for r in HORIZONS]
)
def test_planning_horizon_and_no_backdating(
    start: timedelta, end: timedelta, field: str | None, words: str
) -> None:
    volumes = [_volume(D, D + H), _volume(start, end)]
    if field is None:
        operations.check_horizon(volumes, NOW, HORIZON, SKEW)
        return
    with pytest.raises(Unprocessable, match=words) as caught:
        operations.check_horizon(volumes, NOW, HORIZON, SKEW)
    assert caught.value.extra["field"] == f"body.volumes[1].time.{field}"  # names the culprit
    # The second volume, counted as the CLI and the page count them (the pointer is 0-based).
    assert caught.value.detail.startswith("volume 2 ")
