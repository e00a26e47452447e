"""/api/v1/alerts: each party's feed and a live Server-Sent Events stream.

An alert is acknowledged with a signed ``alert-acknowledgement`` submission (docs/entries.md),
not here. Each alert's first delivery by either path is put on the log (parley.hub.deliveries).

A cursor is the party's own: its alerts are numbered 1, 2, 3... whatever was raised for other
parties in between, so the numbers say nothing about anyone else's alerts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from parley.api.auth import CurrentParty, bearer, hub_of, source_of
from parley.api.events import Signal
from parley.errors import BadRequest, NotFound, UnsupportedMediaType
from parley.formats import strict_json
from parley.hub import metrics
from parley.hub.alerts import render
from parley.hub.core import Hub
from parley.hub.webhooks import FAILED, check_url
from parley.parties import keys
from parley.store.db import Alert, Party

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
HEARTBEAT_S = 15.0
STREAM_FAILED = "the hub could not read alerts; reconnect to resume from the last event id"
log = logging.getLogger("parley.alerts")
# Cursors stay within what every client holds exactly (a JavaScript number) and every backend
# stores (SQLite's INTEGER): beyond it, the answer is a 400, not an overflow deep in the store.
MAX_CURSOR = 2**53 - 1
Cursor = Annotated[int, Query(ge=0, le=MAX_CURSOR, description="the last cursor seen")]


def _page(hub: Hub, party: Party, after: int, limit: int) -> list[tuple[Alert, dict[str, Any]]]:
    hub.screening.refresh()
    return [
        (a, render(hub.screening, a, party.id))
        for a in hub.store.alerts_for(party.id, after, limit)
    ]


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The caller's alerts, oldest first; follow ``next``."""
    hub = hub_of(request)
    page = _page(hub, party, cursor, limit)
    items = [item for _, item in page]
    # The answer is built: these alerts reach the party with it.
    hub.deliveries.delivered(party.id, [alert for alert, _ in page])
    return {"items": items, "next": items[-1]["cursor"] if len(items) == limit else None}


@router.get("/stream")
async def stream(
    request: Request,
    cursor: Cursor = 0,
    token: Annotated[
        str | None, Query(description="for EventSource, which sends no headers")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: each new alert as an ``alert`` event, its cursor as the event id.

    A ``Last-Event-ID`` header (an EventSource sends the last id it saw when it reconnects)
    takes precedence over ``cursor``; one that is not a cursor this hub could have sent is a
    400."""
    hub = hub_of(request)
    party = hub.authenticate(bearer(request) or token, source_of(request))
    after = resume_from(request.headers.get("last-event-id"), cursor)
    woken: Signal = request.app.state.alerts

    async def events() -> AsyncIterator[str]:
        nonlocal after
        yield "retry: 2000\n\n"
        beat = time.monotonic()
        # StreamingResponse cancels this generator when the client goes away.
        while True:
            try:
                items = await run_in_threadpool(_page, hub, party, after, 100)
            except Exception:
                # Said, not swallowed: the client sees why the stream ends and reconnects
                # from the last id it has.
                log.exception("alert stream of %s failed after cursor %d", party.id, after)
                problem = {"title": "Internal error", "status": 500, "detail": STREAM_FAILED}
                yield f"event: error\ndata: {json.dumps(problem)}\n\n"
                return
            for alert, item in items:
                after = item["cursor"]
                yield f"id: {after}\nevent: alert\ndata: {json.dumps(item)}\n\n"
                hub.deliveries.delivered(party.id, [alert])
            if time.monotonic() - beat > HEARTBEAT_S:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            # Alerts from this process wake us at once; another process's within a second.
            await woken.wait(1.0)

    return StreamingResponse(
        metrics.counted_stream(events()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def resume_from(last_event_id: str | None, cursor: int) -> int:
    if not last_event_id:
        return cursor
    # Judged by length before int(): a long digit string is refused, not converted.
    digits = last_event_id.isascii() and last_event_id.isdigit()
    if not digits or len(last_event_id) > len(str(MAX_CURSOR)) or int(last_event_id) > MAX_CURSOR:
        raise BadRequest(
            f"Last-Event-ID must be an alert cursor from this stream, 0 to {MAX_CURSOR}",
            field="Last-Event-ID",
        )
    return int(last_event_id)


webhook_router = APIRouter(prefix="/api/v1/webhook", tags=["alerts"])


def _view(hook: dict[str, Any]) -> dict[str, Any]:
    # How the target answered stays in the operator's log: a party learns that delivery
    # failed, never whether a port was closed, filtered or asked for a password.
    return {
        "party": hook["party"],
        "url": hook["url"],
        "delivered_cursor": hook["delivered_seq"],
        "failures": hook["failures"],
        "last_error": FAILED if hook["failures"] else None,
        "updated_at": hook["updated_at"],
    }


@webhook_router.get("")
def webhook(request: Request, party: CurrentParty) -> dict[str, Any]:
    """The caller's webhook and how far delivery has got (``delivered_cursor``, an alert
    cursor), with the number of failed deliveries since the last success."""
    for hook in hub_of(request).store.webhooks():
        if hook["party"] == party.id:
            return _view(hook)
    raise NotFound("no webhook is set")


@webhook_router.get("/key")
def webhook_key(request: Request) -> dict[str, str]:
    """The public key webhook deliveries are signed with (an Ed25519 JWK). It is not the
    log's key: check ``Parley-Signature`` with this one."""
    return {**keys.public_jwk(hub_of(request).webhooks.public_key()), "use": "sig"}


@webhook_router.put("")
async def set_webhook(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Push the caller's alerts from now on to ``{"url": "https://..."}``, signed with the
    webhook key. The host must resolve to public addresses only, unless the operator allows
    private targets."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(f"send application/json, not {media or 'no content type'!r}")
    body = strict_json.loads(await request.body(), what="the request body")
    hub = hub_of(request)
    url = await run_in_threadpool(
        check_url,
        body.get("url") if isinstance(body, dict) else None,
        hub.settings.webhooks_allow_private,
    )
    await run_in_threadpool(hub.store.set_webhook, party.id, url)
    return await run_in_threadpool(webhook, request, party)


@webhook_router.delete("", status_code=204)
def delete_webhook(request: Request, party: CurrentParty) -> None:
    hub_of(request).store.set_webhook(party.id, None)
