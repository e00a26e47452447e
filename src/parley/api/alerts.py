"""/api/v1/alerts: each party's feed, a live Server-Sent Events stream, acknowledgement."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from parley import clock
from parley.api.auth import bearer, current_party, hub_of
from parley.api.events import Signal
from parley.errors import NotFound
from parley.hub import Hub
from parley.store.db import Alert, Party

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
CurrentParty = Annotated[Party, Depends(current_party)]
HEARTBEAT_S = 15.0


def render(hub: Hub, alert: Alert, viewer: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": alert.id,
        "cursor": alert.seq,
        "kind": alert.kind,
        "severity": alert.conflict.severity if alert.conflict else "info",
        "created_at": alert.created_at,
        "acknowledged_at": alert.acknowledged_at,
        "conflict": hub.screening.view(alert.conflict, viewer) if alert.conflict else None,
        "record": alert.subject_id,
        "message": alert.message or (alert.conflict.detail if alert.conflict else ""),
    }
    if alert.conflict:
        found["message"] = found["conflict"]["detail"]
    return found


def _page(hub: Hub, party: Party, after: int, limit: int) -> list[dict[str, Any]]:
    hub.screening.refresh()
    return [render(hub, a, party.id) for a in hub.store.alerts_for(party.id, after, limit)]


@router.get("")
def list_(
    request: Request,
    party: CurrentParty,
    cursor: Annotated[int, Query(ge=0, description="the last cursor seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The caller's alerts, oldest first; follow ``next``."""
    items = _page(hub_of(request), party, cursor, limit)
    return {"items": items, "next": items[-1]["cursor"] if len(items) == limit else None}


@router.get("/stream")
async def stream(
    request: Request,
    cursor: Annotated[int, Query(ge=0)] = 0,
    token: Annotated[
        str | None, Query(description="for EventSource, which sends no headers")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: each new alert as an ``alert`` event, its cursor as the event id."""
    hub = hub_of(request)
    party = hub.authenticate(bearer(request) or token)
    resume = request.headers.get("last-event-id", "")
    after = int(resume) if resume.isdigit() else cursor
    woken: Signal = request.app.state.alerts

    async def events() -> AsyncIterator[str]:
        nonlocal after
        yield "retry: 2000\n\n"
        beat = time.monotonic()
        # StreamingResponse cancels this generator when the client goes away.
        while True:
            items = await run_in_threadpool(_page, hub, party, after, 100)
            for item in items:
                after = item["cursor"]
                yield f"id: {after}\nevent: alert\ndata: {json.dumps(item)}\n\n"
            if time.monotonic() - beat > HEARTBEAT_S:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            # Alerts from this process wake us at once; another process's within a second.
            await woken.wait(1.0)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/{alert_id}/ack")
def acknowledge(request: Request, party: CurrentParty, alert_id: str) -> dict[str, Any]:
    """Mark an alert as seen. Idempotent."""
    hub = hub_of(request)
    if not hub.store.acknowledge_alert(party.id, alert_id, clock.iso(clock.now())):
        raise NotFound(f"no alert {alert_id!r}")
    (alert,) = hub.store.alerts_for(party.id, alert_id=alert_id)
    return render(hub, alert, party.id)


webhook_router = APIRouter(prefix="/api/v1/webhook", tags=["alerts"])


@webhook_router.get("")
def webhook(request: Request, party: CurrentParty) -> dict[str, Any]:
    """The caller's webhook and how far delivery has got."""
    for hook in hub_of(request).store.webhooks():
        if hook["party"] == party.id:
            return hook
    raise NotFound("no webhook is set")


@webhook_router.put("")
async def set_webhook(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Push the caller's alerts from now on to ``{"url": ...}``, signed by the hub."""
    from parley.api.submissions import _json_body
    from parley.webhooks import check_url

    body = await _json_body(request)
    url = check_url(body.get("url") if isinstance(body, dict) else None)
    hub = hub_of(request)
    await run_in_threadpool(hub.store.set_webhook, party.id, url)
    return await run_in_threadpool(webhook, request, party)


@webhook_router.delete("", status_code=204)
def delete_webhook(request: Request, party: CurrentParty) -> None:
    hub_of(request).store.set_webhook(party.id, None)
