"""/api/v1/submissions: create (one or a batch), read, list."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from parley import clock
from parley.api.auth import CurrentParty, hub_of
from parley.api.events import Signal
from parley.errors import BadRequest, ParleyError, UnsupportedMediaType
from parley.formats import strict_json
from parley.hub.admission import Accepted
from parley.hub.core import Hub
from parley.parties import jws
from parley.store.db import Submission

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])
log = logging.getLogger("parley.api")
UNREADABLE = "the stored JWS does not parse"


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
    return strict_json.loads(await request.body(), what="the request body")


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
) -> Response:
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
    # orjson straight to a plain Response: JSONResponse's json.dumps cost more than the answer
    # is worth on the hottest route.
    return Response(
        orjson.dumps(answer),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"{router.prefix}/{answer['id']}"},
    )


@router.post("/batch", openapi_extra=_BATCH_BODY, response_model=None)
async def create_batch(request: Request, party: CurrentParty) -> Response:
    """Submit many signed documents; each is accepted or refused on its own."""
    body = await _json_body(request)
    items = body.get("submissions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadRequest('send {"submissions": ["<compact JWS>", ...]}')
    hub = hub_of(request)
    if len(items) > hub.settings.batch_max:
        raise BadRequest(f"at most {hub.settings.batch_max} submissions per batch")
    outcomes = await hub.submit(party, items)
    results = [
        {"status": 201, **o.answer()} if isinstance(o, Accepted) else o.problem() for o in outcomes
    ]
    # orjson to a plain Response: FastAPI's encoder walked every item of the answer.
    return Response(orjson.dumps({"results": results}), media_type="application/json")


def view(sub: Submission, hub: Hub) -> dict[str, Any]:
    try:
        parsed = jws.Parsed(sub.jws, stored=True)
    except ParleyError as exc:
        return _unreadable(sub, hub, exc)
    document = parsed.payload
    named = document.get("audience")
    members = {p for p in named if isinstance(p, str)} if isinstance(named, list) else set()
    # The author is always in the audience, named or not.
    audience = "all" if sub.audience_all else sorted(members | {sub.party_id})
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


def _unreadable(sub: Submission, hub: Hub, exc: ParleyError) -> dict[str, Any]:
    """A stored record that no longer parses was damaged in the database, not sent so by its
    reader: list it as it is, say so, and tell the operator, rather than refuse the reader."""
    log.warning(
        "submission %s (sequence %d) is damaged in the database: %s: %s",
        sub.id,
        sub.log_index,
        UNREADABLE,
        exc.detail,
    )
    named = hub.store.audience_of(sub.id)
    return {
        "id": sub.id,
        "sequence": sub.log_index,
        "kind": sub.kind,
        "party": sub.party_id,
        "client_time": sub.client_time,
        "received_at": sub.received_at,
        "audience": "all" if named is None else sorted(named | {sub.party_id}),
        "document": None,
        "jws": sub.jws,
        "authenticated_by": None,
        "salt": sub.salt,
        "integrity": UNREADABLE,
    }


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Annotated[
        int,
        Query(ge=-1, le=strict_json.MAX_SAFE_INTEGER, description="the last sequence number seen"),
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: str | None = None,
    author: Annotated[str | None, Query(alias="party")] = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Submissions visible to the caller, in log order; follow ``next`` for more."""
    hub = hub_of(request)
    items = hub.store.list_submissions(
        party.id,
        after=cursor,
        limit=limit,
        kind=kind,
        party=author,
        since=clock.iso(clock.parse(since, "since")) if since else None,
        until=clock.iso(clock.parse(until, "until")) if until else None,
    )
    next_cursor = items[-1].log_index if len(items) == limit else None
    return {"items": [view(s, hub) for s in items], "next": next_cursor}


@router.get("/{submission_id}")
def read(request: Request, party: CurrentParty, submission_id: str) -> dict[str, Any]:
    hub = hub_of(request)
    return view(hub.submission(party, submission_id), hub)


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
