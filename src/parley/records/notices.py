"""Rules for what notifiers send: protected sites, movements, withdrawals.

A notification is information, not a request for permission: late ones are flagged, never
refused, and nothing here asks a member to approve anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from parley.errors import InvalidSubmission, Unprocessable
from parley.geo import shapes

CATEGORIES = (
    "hospital",
    "health-post",
    "school",
    "shelter",
    "camp",
    "water",
    "power",
    "humanitarian-office",
    "warehouse",
    "cultural",
    "other",
)
DUPLICATE_WITHIN_M = 100.0
LEAD_TIME = {"normal": timedelta(hours=48), "emergency": timedelta(hours=24)}


def check_site(body: dict[str, Any]) -> None:
    if body.get("category") not in CATEGORIES:
        raise InvalidSubmission(
            f"category must be one of {', '.join(CATEGORIES)}, not {body.get('category')!r}",
            field="body.category",
        )


def movement_flags(
    movement: shapes.Movement, body: dict[str, Any], received: datetime, skew: timedelta
) -> list[str]:
    """Refuse a movement already over; flag one notified with less than its lead time."""
    end = movement.window.end
    if end is not None and end < received - skew:
        raise Unprocessable("the movement ended in the past", field="body.time.end")
    urgency = "emergency" if body.get("emergency") else "normal"
    lead = movement.window.start - received
    if lead < LEAD_TIME[urgency]:
        hours = max(lead.total_seconds(), 0) / 3600
        return [
            f"late: notified {hours:.1f} h before the movement starts; "
            f"{LEAD_TIME[urgency].total_seconds() / 3600:.0f} h expected ({urgency})"
        ]
    return []


def check_withdrawal(body: dict[str, Any]) -> str:
    record = body.get("record")
    if not isinstance(record, str):
        raise InvalidSubmission(
            "record must be the id of the site or movement to withdraw", field="body.record"
        )
    return record
