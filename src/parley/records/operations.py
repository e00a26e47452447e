"""The life of a notified operation: planned → active → completed, or cancelled; amended by a
new version that supersedes the old one and is screened again.

Only the operation's own party moves it. An operation that is completed, cancelled or
superseded is no longer in force: screening stops considering it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from parley.errors import Conflict, Unprocessable
from parley.geo.shapes import Volume

PLANNED, ACTIVE, COMPLETED, CANCELLED, SUPERSEDED = (
    "planned",
    "active",
    "completed",
    "cancelled",
    "superseded",
)
NEXT: dict[str, frozenset[str]] = {
    PLANNED: frozenset({ACTIVE, CANCELLED}),
    ACTIVE: frozenset({COMPLETED, CANCELLED}),
}
REQUESTABLE = frozenset({ACTIVE, COMPLETED, CANCELLED})
IN_FORCE = frozenset({PLANNED, ACTIVE})


def check_transition(operation: str, current: str, new: str) -> None:
    if new not in REQUESTABLE:
        raise Unprocessable(
            f"status must be one of {', '.join(sorted(REQUESTABLE))}, not {new!r}",
            field="body.status",
        )
    if new not in NEXT.get(current, frozenset()):
        raise Conflict(
            f"operation {operation} is {current}; it cannot become {new}",
            field="body.status",
            current=current,
        )


def check_amendable(operation: str, current: str) -> None:
    if current not in IN_FORCE:
        raise Conflict(
            f"operation {operation} is {current}; only a planned or active operation can be "
            "amended",
            field="body.supersedes",
            current=current,
        )


def check_horizon(
    volumes: Sequence[Volume], now: datetime, horizon: timedelta, skew: timedelta
) -> None:
    """Notifications look ahead, within a planning horizon; none is back-dated."""
    for i, volume in enumerate(volumes):
        if volume.window.start > now + horizon:
            raise Unprocessable(
                f"volume {i + 1} starts beyond the planning horizon of {horizon.days} days",
                field=f"body.volumes[{i}].time.start",
            )
        end = volume.window.end
        if end is not None and end < now - skew:
            raise Unprocessable(
                f"volume {i + 1} ended in the past; notify operations before they fly",
                field=f"body.volumes[{i}].time.end",
            )
