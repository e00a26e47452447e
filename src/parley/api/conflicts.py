"""/api/v1/conflicts: what screening raised that concerns the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from parley.api.alerts import Cursor
from parley.api.auth import CurrentParty, hub_of
from parley.errors import BadRequest
from parley.geo.screening import SEVERITY
from parley.records.kinds import STATES

router = APIRouter(prefix="/api/v1/conflicts", tags=["conflicts"])
DEFAULT_STATES = ("open", "acknowledged", "resolved")
SEVERITIES = tuple(sorted(set(SEVERITY.values())))
KINDS = tuple(sorted(SEVERITY))
# State is known only in memory, so a filtered page is read from the store in batches.
BATCH = 500


def choices(value: str | None, allowed: tuple[str, ...], name: str) -> set[str] | None:
    """A comma-separated filter; None when not given."""
    if value is None:
        return None
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown or not wanted:
        raise BadRequest(
            f"{name} must be a comma-separated list of {', '.join(allowed)}; "
            f"{', '.join(unknown) or 'none'} given",
            field=name,
        )
    return wanted


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    state: Annotated[
        str | None,
        Query(description=f"comma-separated among {', '.join(STATES)}; default: all but moot"),
    ] = None,
    kind: Annotated[
        str | None, Query(description=f"comma-separated among {', '.join(KINDS)}")
    ] = None,
    severity: Annotated[
        str | None, Query(description=f"comma-separated among {', '.join(SEVERITIES)}")
    ] = None,
) -> dict[str, Any]:
    """Conflicts that alert the caller, oldest first; a record it cannot see is not named.
    Cursors are the caller's alert cursors. Each conflict has a ``state`` (``moot`` ones are
    left out unless asked for) and names its sides by role (``operation``, ``site``, ``area``,
    ``movement``, ``other_operation``)."""
    states = choices(state, STATES, "state") or set(DEFAULT_STATES)
    kinds = choices(kind, KINDS, "kind")
    severities = choices(severity, SEVERITIES, "severity")
    hub = hub_of(request)
    hub.screening.refresh()
    items: list[dict[str, Any]] = []
    after = cursor
    more = True
    while more and len(items) < limit:
        batch = hub.store.alerts_for(party.id, after, BATCH, conflicts_only=True)
        more = len(batch) == BATCH
        for alert in batch:
            after = alert.seq
            found = alert.conflict
            if found is None:
                continue
            if kinds is not None and found.kind not in kinds:
                continue
            if severities is not None and found.severity not in severities:
                continue
            view = hub.screening.view(found, party.id, alert.acknowledged_at is not None)
            if view["state"] not in states:
                continue
            items.append({**view, "cursor": alert.seq})
            if len(items) == limit:
                break
    return {"items": items, "next": after if len(items) == limit else None}
