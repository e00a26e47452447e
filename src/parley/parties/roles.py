"""What each role may submit (DESIGN.md, "Who uses it")."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    NOTIFIER = "notifier"
    OBSERVER = "observer"


KINDS: frozenset[str] = frozenset(
    {
        "operation",
        "operation-status",
        "resolution",
        "area",
        "acknowledgement",
        "intelligence",
        "incident",
        "site",
        "movement",
        "review",
        "withdrawal",
        "area-map",
        "area-vote",
        "alert-acknowledgement",
    }
)

ALLOWED: dict[Role, frozenset[str]] = {
    Role.MEMBER: frozenset(
        {
            "operation",
            "operation-status",
            "resolution",
            "area",
            "area-map",
            "area-vote",
            "acknowledgement",
            "intelligence",
            "incident",
            "review",
            "alert-acknowledgement",
        }
    ),
    # Any party may be alerted, so any party acknowledges its own alerts.
    Role.NOTIFIER: frozenset(
        {"site", "movement", "incident", "withdrawal", "alert-acknowledgement"}
    ),
    Role.OBSERVER: frozenset({"incident", "review", "alert-acknowledgement"}),
}


def may_submit(role: str, kind: str) -> bool:
    try:
        return kind in ALLOWED[Role(role)]
    except ValueError:
        return False
