"""/api/v1/sites: what a member has received and not yet acknowledged, and who takes part.

Acknowledging a site says "we received this notification", never "we approve": a notification
is information, not a request for permission.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from parley import clock
from parley.api.auth import current_party, hub_of
from parley.hub import Hub
from parley.store.db import Party

router = APIRouter(prefix="/api/v1", tags=["sites"])
CurrentParty = Annotated[Party, Depends(current_party)]


def _visible(hub: Hub, viewer: str, kind: str) -> list[Any]:
    found, cursor = [], -1
    while True:
        page = hub.store.list_submissions(viewer, after=cursor, limit=1000, kind=kind)
        found += page
        if len(page) < 1000:
            return found
        cursor = page[-1].log_index


def unacknowledged(hub: Hub, member: str, viewer: str) -> list[dict[str, Any]]:
    """Sites visible to both ``member`` and ``viewer`` that ``member`` has not acknowledged."""
    hub.screening.refresh()
    done = hub.store.acknowledged(member)
    now = clock.now()
    shared = {s.id for s in _visible(hub, viewer, "site")}
    items = []
    for site in _visible(hub, member, "site"):
        status = hub.screening.status.get(site.id)
        if site.id in done or site.id not in shared or status == "superseded":
            continue
        age = (now - datetime.fromisoformat(site.received_at)).total_seconds()
        items.append(
            {
                "id": site.id,
                "party": site.party_id,
                "received_at": site.received_at,
                "age_s": round(age),
            }
        )
    return items


@router.get("/sites/unacknowledged")
def my_unacknowledged(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Sites notified to the caller that it has not yet acknowledged receiving, oldest first."""
    return {"items": unacknowledged(hub_of(request), party.id, party.id)}


@router.get("/participation")
def participation(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Per party: sites it has not acknowledged (among those the caller sees too) and the time
    since it last submitted anything."""
    hub = hub_of(request)
    last = hub.store.last_submitted()
    now = clock.now()
    rows = []
    for other in hub.store.parties():
        seen = last.get(other.id)
        rows.append(
            {
                "party": other.id,
                "role": other.role,
                "unacknowledged_sites": (
                    len(unacknowledged(hub, other.id, party.id)) if other.role == "member" else None
                ),
                "last_submitted_at": seen,
                "silent_for_s": round((now - datetime.fromisoformat(seen)).total_seconds())
                if seen
                else None,
            }
        )
    return {"items": rows}
