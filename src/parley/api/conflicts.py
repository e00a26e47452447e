"""/api/v1/conflicts: what screening raised that concerns the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from parley.api.alerts import Cursor
from parley.api.auth import current_party, hub_of
from parley.store.db import Party

router = APIRouter(prefix="/api/v1/conflicts", tags=["conflicts"])
CurrentParty = Annotated[Party, Depends(current_party)]


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Conflicts that alert the caller, oldest first; a record it cannot see is not named.
    Cursors are the caller's alert cursors."""
    hub = hub_of(request)
    hub.screening.refresh()
    found = hub.store.conflicts_for(party.id, after=cursor, limit=limit)
    return {
        "items": [hub.screening.view(c, party.id) for _, c in found],
        "next": found[-1][0] if len(found) == limit else None,
    }
