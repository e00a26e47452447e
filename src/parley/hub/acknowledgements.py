"""Receipts owed: the sites a member can see and has not acknowledged receiving."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from parley import clock
from parley.store.db import Submission

if TYPE_CHECKING:
    from parley.hub.context import Context


def visible(ctx: Context, viewer: str, kind: str) -> list[Submission]:
    found: list[Submission] = []
    cursor = -1
    while True:
        page = ctx.store.list_submissions(viewer, after=cursor, limit=1000, kind=kind)
        found += page
        if len(page) < 1000:
            return found
        cursor = page[-1].log_index


def unacknowledged(ctx: Context, member: str, viewer: str) -> list[dict[str, Any]]:
    """Sites visible to both ``member`` and ``viewer`` that ``member`` has not acknowledged,
    still in force, oldest first."""
    ctx.screening.refresh()
    # Only the acknowledgements the viewer may see count, or a restricted one would show.
    done = ctx.store.acknowledged(member, viewer=viewer)
    now = clock.now()
    shared = {s.id for s in visible(ctx, viewer, "site")} if viewer != member else None
    items = []
    for site in visible(ctx, member, "site"):
        status = ctx.screening.status.get(site.id)
        if (
            site.id in done
            or (shared is not None and site.id not in shared)
            or status in ("superseded", "withdrawn", "expired")
        ):
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
