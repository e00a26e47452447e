"""/api/v1/sites: what a member has received and not yet acknowledged, and who takes part.

Acknowledging a site says "we received this notification", never "we approve": a notification
is information, not a request for permission.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from parley import clock
from parley.api.auth import CurrentParty, hub_of
from parley.hub import hubrecords
from parley.hub.acknowledgements import unacknowledged

router = APIRouter(prefix="/api/v1", tags=["sites"])


@router.get("/sites/unacknowledged")
def my_unacknowledged(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Sites notified to the caller that it has not yet acknowledged receiving, oldest first."""
    return {"items": unacknowledged(hub_of(request).context, party.id, party.id)}


@router.get("/participation")
def participation(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Per party: sites it has not acknowledged (among those the caller sees too) and the time
    since it last submitted anything the caller may see. Every figure is computed over the
    records the caller may see, so a restricted record tells an outsider nothing of its author."""
    hub = hub_of(request)
    last = hub.store.last_submitted(party.id)
    now = clock.now()
    rows = []
    for other in hub.store.parties():
        if other.role == hubrecords.ROLE:
            continue  # the hub's own records (alert deliveries) owe nothing and say no silence
        seen = last.get(other.id)
        rows.append(
            {
                "party": other.id,
                "role": other.role,
                "unacknowledged_sites": (
                    len(unacknowledged(hub.context, other.id, party.id))
                    if other.role == "member"
                    else None
                ),
                "last_submitted_at": seen,
                "silent_for_s": round((now - datetime.fromisoformat(seen)).total_seconds())
                if seen
                else None,
            }
        )
    return {"items": rows}
