"""/api/v1/submissions: create (one or a batch), read, list."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from parley import clock
from parley.api.auth import current_party, hub_of
from parley.api.events import Signal
from parley.errors import BadRequest, InvalidJSON, ParleyError, UnsupportedMediaType
from parley.hub import Accepted
from parley.parties import jws
from parley.store.db import Party, Submission

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])


CurrentParty = Annotated[Party, Depends(current_party)]

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/jose": {"schema": {"type": "string", "description": "compact JWS"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["jws"],
                    "properties": {"jws": {"type": "string"}},
                }
            },
        },
    }
}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["submissions"],
                    "properties": {"submissions": {"type": "array", "items": {"type": "string"}}},
                }
            }
        },
    }
}


async def _json_body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(f"send application/json, not {media or 'no content type'!r}")
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise InvalidJSON(f"the request body is not valid JSON: {exc}") from None


async def _compact(request: Request) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/jose":
        try:
            return (await request.body()).decode("ascii").strip()
        except UnicodeDecodeError:
            raise BadRequest("a compact JWS is ASCII text") from None
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("jws"), str):
        raise BadRequest('send {"jws": "<compact JWS>"} or the JWS itself as application/jose')
    return str(body["jws"])


@router.post("", status_code=201, openapi_extra=_SUBMIT_BODY)
async def create(
    request: Request,
    party: CurrentParty,
    receipt_wait: Annotated[
        float,
        Query(
            alias="receipt",
            ge=0,
            le=30,
            description="seconds to wait for a signed checkpoint and include the receipt",
        ),
    ] = 0,
) -> JSONResponse:
    """Submit one signed document; answers its id and sequence number (and, if asked to wait,
    its receipt)."""
    compact = await _compact(request)
    (outcome,) = await hub_of(request).submit(party, [compact])
    if isinstance(outcome, ParleyError):
        raise outcome
    answer = outcome.answer()
    if receipt_wait:
        r = outcome.record
        stored = Submission(
            0,
            r.id,
            r.kind,
            r.party_id,
            r.nonce,
            r.client_time,
            r.received_at,
            r.audience is None,
            r.jws,
            r.salt,
            outcome.index,
        )
        answer["receipt"] = await _await_receipt(request, stored, receipt_wait)
    return JSONResponse(
        answer, status_code=201, headers={"Location": f"{router.prefix}/{answer['id']}"}
    )


@router.post("/batch", openapi_extra=_BATCH_BODY)
async def create_batch(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Submit many signed documents; each is accepted or refused on its own."""
    body = await _json_body(request)
    items = body.get("submissions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadRequest('send {"submissions": ["<compact JWS>", ...]}')
    hub = hub_of(request)
    if len(items) > hub.settings.batch_max:
        raise BadRequest(f"at most {hub.settings.batch_max} submissions per batch")
    outcomes = await hub.submit(party, items)
    return {
        "results": [
            {"status": 201, **o.answer()} if isinstance(o, Accepted) else o.problem()
            for o in outcomes
        ]
    }


def view(sub: Submission) -> dict[str, Any]:
    parsed = jws.Parsed(sub.jws, stored=True)
    document = parsed.payload
    named = document["audience"]
    # The author is always in the audience, named or not.
    audience = "all" if sub.audience_all else sorted(set(named) | {sub.party_id})
    return {
        "id": sub.id,
        "sequence": sub.log_index,
        "kind": sub.kind,
        "party": sub.party_id,
        "client_time": sub.client_time,
        "received_at": sub.received_at,
        "audience": audience,
        "document": document,
        "jws": sub.jws,
        "authenticated_by": "token" if parsed.unsecured else "signature",
        "salt": sub.salt,
    }


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Annotated[int, Query(ge=-1, description="the last sequence number seen")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: str | None = None,
    author: Annotated[str | None, Query(alias="party")] = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Submissions visible to the caller, in log order; follow ``next`` for more."""
    items = hub_of(request).store.list_submissions(
        party.id,
        after=cursor,
        limit=limit,
        kind=kind,
        party=author,
        since=clock.iso(clock.parse(since, "since")) if since else None,
        until=clock.iso(clock.parse(until, "until")) if until else None,
    )
    next_cursor = items[-1].log_index if len(items) == limit else None
    return {"items": [view(s) for s in items], "next": next_cursor}


@router.get("/{submission_id}")
def read(request: Request, party: CurrentParty, submission_id: str) -> dict[str, Any]:
    return view(hub_of(request).submission(party, submission_id))


async def _await_receipt(request: Request, sub: Submission, wait: float) -> dict[str, Any] | None:
    hub = hub_of(request)
    deadline = time.monotonic() + wait
    # Waiters sleep on an event the checkpoint publisher fires, so a thousand waiting clients
    # cost neither queries nor polling.
    published: Signal = request.app.state.checkpoints
    while hub.log.published_size() <= sub.log_index and time.monotonic() < deadline:
        await published.wait(deadline - time.monotonic())
    return await run_in_threadpool(hub.log.receipt, sub)


@router.get("/{submission_id}/receipt")
async def receipt(
    request: Request,
    party: CurrentParty,
    submission_id: str,
    wait: Annotated[float, Query(ge=0, le=30, description="seconds to wait for it")] = 0,
) -> JSONResponse:
    """The receipt: entry, inclusion proof and signed checkpoint; 202 until one is signed."""
    hub = hub_of(request)
    sub = await run_in_threadpool(hub.submission, party, submission_id)
    found = await _await_receipt(request, sub, wait)
    if found is None:
        return JSONResponse(
            {"status": "pending", "detail": "no signed checkpoint covers this entry yet"},
            status_code=202,
            headers={"Retry-After": "1"},
        )
    return JSONResponse(found)
