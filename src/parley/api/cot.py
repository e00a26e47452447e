"""/api/v1/export/cot: the caller's picture as Cursor-on-Target events for TAK clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import current_party, hub_of
from parley.formats import cot
from parley.store.db import Party

router = APIRouter(prefix="/api/v1/export", tags=["export"])
CurrentParty = Annotated[Party, Depends(current_party)]


@router.get(
    "/cot",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "an <events> document"}},
)
async def export_cot(request: Request, party: CurrentParty) -> Response:
    """Sites, operation volumes, movements and conflicts the caller may see, as CoT 2.0 events
    in one ``<events>`` wrapper (each child is an event as a TAK feed sends it)."""
    found = await run_in_threadpool(lambda: cot.for_viewer(hub_of(request), party))
    return Response(cot.document(found), media_type="application/xml")
