"""/api/v1/export: the caller's view of the records in the field's exchange formats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import current_party, hub_of
from parley.store.db import Party

router = APIRouter(prefix="/api/v1/export", tags=["export"])
CurrentParty = Annotated[Party, Depends(current_party)]


@router.get("/stix")
async def stix(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Sites, areas, incidents and conflicts the caller may see, as a STIX 2.1 bundle with
    parley's geometry extension and TLP 2.0 markings derived from audiences."""
    from parley.intel.export import bundle

    base = str(request.base_url).rstrip("/")
    found: dict[str, Any] = await run_in_threadpool(
        lambda: bundle(hub_of(request), party, base_url=base)
    )
    return found
