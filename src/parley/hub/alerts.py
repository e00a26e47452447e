"""The one audience-safe view of an alert, for every path that hands alerts out (the API, the
event stream, webhooks)."""

from __future__ import annotations

from typing import Any

from parley.hub.deconfliction import Screening
from parley.store.db import Alert


def render(screening: Screening, alert: Alert, viewer: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": alert.id,
        "cursor": alert.seq,
        "kind": alert.kind,
        "severity": alert.conflict.severity if alert.conflict else "info",
        "created_at": alert.created_at,
        "acknowledged_at": alert.acknowledged_at,
        "conflict": (
            screening.view(alert.conflict, viewer, alert.acknowledged_at is not None)
            if alert.conflict
            else None
        ),
        "record": alert.subject_id,
        "message": alert.message or (alert.conflict.detail if alert.conflict else ""),
    }
    if alert.conflict:
        found["message"] = found["conflict"]["detail"]
    return found
