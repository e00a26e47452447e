"""What notifiers send, rule by rule: site categories, movements flagged late but never refused
(unless already over), and withdrawals naming their record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from parley.errors import InvalidSubmission, Unprocessable
from parley.geo import shapes
from parley.records import notices

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
H = timedelta(hours=1)


def _movement(start: timedelta, length: timedelta = 4 * H) -> shapes.Movement:
    return shapes.parse_movement(
        {
            "name": "Convoy",
            "route": {"type": "LineString", "coordinates": [[36.7, 34.7], [37.1, 35.1]]},
            "corridor_m": 500,
            "time": {
                "start": (RECEIVED + start).isoformat(),
                "end": (RECEIVED + start + length).isoformat(),
            },
        }
    )


MOVEMENTS = [
    # (story, hours ahead, emergency, length, expected flag prefix or None, refused words)
    ("three days' notice: no flag", 72, False, 4 * H, None, ""),
    ("exactly 48 h ahead is on time", 48, False, 4 * H, None, ""),
    ("47 h ahead of a normal movement is late", 47, False, 4 * H, "late: notified 47.0 h", ""),
    ("six hours ahead is late, flagged not refused", 6, False, 4 * H, "late: notified 6.0 h", ""),
    ("an emergency 30 h ahead is on time", 30, True, 4 * H, None, ""),
    ("an emergency 23 h ahead is late", 23, True, 4 * H, "late: notified 23.0 h", ""),
    ("already under way: late by 0 h, still accepted", -1, False, 4 * H, "late: notified 0.0", ""),
    ("ended ten hours ago: refused", -14, False, 4 * H, None, "ended in the past"),
    ("ended within the clock skew: accepted, late", -4, False, 4 * H - 2 * SKEW / 3, "late", ""),
]


@pytest.mark.parametrize(
    ("hours", "emergency", "length", "flag", "refused"),
    [r[1:] for r in MOVEMENTS],
    ids=[r[0] for r in MOVEMENTS],
)
def test_movement_flags(
    hours: float, emergency: bool, length: timedelta, flag: str | None, refused: str
) -> None:
    movement = _movement(timedelta(hours=hours), length)
    body: dict[str, Any] = {"emergency": True} if emergency else {}
    if refused:
        with pytest.raises(Unprocessable, match=refused) as caught:
            notices.movement_flags(movement, body, RECEIVED, SKEW)
        assert caught.value.extra["field"] == "body.time.end"
        return
    flags = notices.movement_flags(movement, body, RECEIVED, SKEW)
    if flag is None:
        assert flags == []
    else:
        (only,) = flags
        assert only.startswith(flag)
        assert ("(emergency)" if emergency else "(normal)") in only
        assert ("24 h expected" if emergency else "48 h expected") in only


SITES = [
    ("a hospital", "hospital", True),
    ("a school", "school", True),
    ("'other' is a category", "other", True),
    ("categories are lower-case words", "Hospital", False),
    ("a made-up category", "base", False),
    ("no category at all", None, False),
]


@pytest.mark.parametrize(("category", "ok"), [r[1:] for r in SITES], ids=[r[0] for r in SITES])
def test_site_categories(category: str | None, ok: bool) -> None:
    body = {} if category is None else {"category": category}
    if ok:
        notices.check_site(body)
        return
    with pytest.raises(InvalidSubmission, match="category must be one of") as caught:
        notices.check_site(body)
    assert caught.value.extra["field"] == "body.category"


WITHDRAWALS = [
    ("names the site it withdraws", {"record": "abc"}, "abc"),
    ("with a reason", {"record": "abc", "reason": "closed"}, "abc"),
    ("without a record", {"reason": "closed"}, None),
    ("a record that is not an id", {"record": 7}, None),
    ("a list of records", {"record": ["a", "b"]}, None),
]


@pytest.mark.parametrize(
    ("body", "record"), [r[1:] for r in WITHDRAWALS], ids=[r[0] for r in WITHDRAWALS]
)
def test_withdrawals(body: dict[str, Any], record: str | None) -> None:
    if record is not None:
        assert notices.check_withdrawal(body) == record
        return
    with pytest.raises(InvalidSubmission, match="record must be the id"):
        notices.check_withdrawal(body)
