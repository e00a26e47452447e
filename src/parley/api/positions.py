"""/api/v1/position and /api/v1/sites/check: read a position back, and try a site before signing.

Both answer what the hub would make of the input (the same reader, the same area of service,
the same duplicate probe over the sites the caller may see) and store nothing, so the page and
the CLI can show it before anyone signs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import CurrentParty, hub_of
from parley.errors import InvalidSubmission
from parley.formats import strict_json
from parley.formats.coordinates import echo, read_position

router = APIRouter(prefix="/api/v1", tags=["positions"])


@router.get("/position")
def position(
    request: Request,
    party: CurrentParty,
    q: Annotated[str, Query(max_length=500, description="a position as typed")],
) -> dict[str, Any]:
    """A typed position read back in every form, with the nearest place and governorate."""
    found = read_position(q)
    hub_of(request).check_position(found.lat, found.lon)
    return {**echo(found.lat, found.lon), "form": found.form, "precision_m": found.precision_m}


@router.post(
    "/sites/check",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def check_site(request: Request, party: CurrentParty) -> dict[str, Any]:
    """The flags a site body would get (possible duplicates), without signing or storing it."""
    body = strict_json.loads(await request.body(), what="the site")
    if not isinstance(body, dict):
        raise InvalidSubmission("the site must be a JSON object", field="body")
    hub = hub_of(request)
    flags = await run_in_threadpool(hub.draft_site, party, body)
    return {"flags": flags}
