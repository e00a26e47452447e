"""/api/v1/evidence/{id}: one file proving who was told what about a record, and when."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import CurrentParty, hub_of
from parley.errors import BadRequest
from parley.hub import evidence

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
MAX_KNOWN = 16


def _sizes(known: str | None) -> list[int]:
    if not known:
        return []
    parts = known.split(",")
    if len(parts) > MAX_KNOWN or not all(
        p.strip().isdigit() and len(p.strip()) < 16 for p in parts
    ):
        raise BadRequest(
            f"known must be up to {MAX_KNOWN} comma-separated checkpoint sizes", field="known"
        )
    return [int(p) for p in parts]


@router.get("/{submission_id}")
async def read(
    request: Request,
    party: CurrentParty,
    submission_id: str,
    known: Annotated[
        str | None,
        Query(description="sizes of checkpoints you saved, to be linked to the latest one"),
    ] = None,
) -> dict[str, Any]:
    """Every signed submission about a site, movement, operation or incident that the caller
    may see, with receipts, consistency proofs, keys and a manifest the hub signs
    (docs/evidence.md). A record the caller may not see gets the answer a missing one gets."""
    sizes = _sizes(known)
    return await run_in_threadpool(evidence.build, hub_of(request), party, submission_id, sizes)
