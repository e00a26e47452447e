"""/api/v1/export/cot: the caller's picture as Cursor-on-Target events for TAK clients."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import CurrentParty, hub_of
from parley.formats import cot
from parley.hub.core import Hub
from parley.records.kinds import ENDED
from parley.store.db import Party

router = APIRouter(prefix="/api/v1/export", tags=["export"])


@router.get(
    "/cot",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "an <events> document"}},
)
async def export_cot(request: Request, party: CurrentParty) -> Response:
    """Sites, operation volumes, movements, areas, incidents and conflicts the caller may see,
    as CoT 2.0 events in one ``<events>`` wrapper (each child is an event as a TAK feed sends
    it)."""
    found = await run_in_threadpool(lambda: for_viewer(hub_of(request), party))
    return Response(cot.document(found), media_type="application/xml")


def for_viewer(hub: Hub, viewer: Party, *, now: datetime | None = None) -> list[ET.Element]:
    """Everything ``viewer`` may see as events: records through the store's audience check
    (``list_submissions``), minus those out of force (withdrawn, cancelled, completed,
    superseded) and area-map versions replaced by the one in force, and the viewer's conflicts
    as screening words them for it."""
    hub.screening.refresh()
    records: list[cot.Record] = []
    for kind in cot.KINDS:
        after = -1
        while True:
            page = hub.store.list_submissions(viewer.id, after=after, limit=500, kind=kind)
            for s in page:
                # One lookup per record: the screening thread may be adding to the dict.
                if hub.screening.status.get(s.id) in ENDED:
                    continue
                body = s.body
                state = None
                if kind == "area-map":
                    current = hub.screening.maps.get(str(body.get("map")))
                    in_force = current.in_force if current is not None else None
                    version = int(body.get("version", 0))
                    if in_force is not None and version < in_force:
                        continue
                    state = "in force" if version == in_force else "proposed"
                records.append(cot.Record(s.id, s.kind, s.party_id, s.received_at, body, state))
            if len(page) < 500:
                break
            after = page[-1].log_index
    conflicts: list[dict[str, Any]] = []
    after = 0
    while True:
        found = hub.store.conflicts_for(viewer.id, after=after, limit=500)
        conflicts.extend(hub.screening.view(c, viewer.id) for _, c in found)
        if len(found) < 500:
            break
        after = found[-1][0]
    return cot.events(records, conflicts, now=now)
