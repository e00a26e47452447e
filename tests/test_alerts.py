"""Alerts over real HTTP on both backends: the feed, acknowledgement, and the live SSE stream
reaching exactly the parties a conflict concerns."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from typing import Any

import httpx

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, operation, site


def listen(
    server: Server,
    party: PartyHandle,
    got: queue.Queue[tuple[str, Any]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Read the stream as a browser's EventSource would, with the token in the query."""
    # the test server shuts down under us when the test is over
    with contextlib.suppress(httpx.HTTPError):
        _listen(server, party, got, ready, stop)


def _listen(
    server: Server,
    party: PartyHandle,
    got: queue.Queue[tuple[str, Any]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    with httpx.stream(
        "GET", f"{server.url}/api/v1/alerts/stream", params={"token": party.token}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        ready.set()
        event = None
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "alert":
                got.put((party.id, json.loads(line.removeprefix("data: "))))


def test_conflict_alerts_stream_live_to_both_parties_and_nobody_else(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    got: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    readies = []
    for party in (alpha, bravo, charlie):
        ready = threading.Event()
        readies.append(ready)
        threading.Thread(target=listen, args=(server, party, got, ready, stop), daemon=True).start()
    for ready in readies:
        assert ready.wait(10)
    with server.client(alpha) as a, server.client(bravo) as b:
        a.submit("operation", operation(38.5, 35.5, 3000))
        other = b.submit("operation", operation(38.5, 35.52, 3000))
    received = [got.get(timeout=10), got.get(timeout=10)]
    stop.set()
    assert sorted(p for p, _ in received) == ["alpha", "bravo"]
    for _, alert in received:
        assert alert["kind"] == "conflict" and alert["conflict"]["kind"] == "deconfliction"
        assert alert["conflict"]["id"] == other["conflicts"][0]["id"]
    assert got.empty()  # charlie heard nothing


def test_feed_and_acknowledgement(server: Server, parties: dict[str, PartyHandle]) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(relief) as r, server.client(alpha) as a:
        r.submit("site", site(*HOSPITAL))
        a.submit("operation", operation(*HOSPITAL, 500))
        (alert,) = a.get("/api/v1/alerts")["items"]
        assert alert["severity"] == "critical" and alert["acknowledged_at"] is None
        # a signed acknowledgement (tests/test_alert_acks.py has the rest)
        body = {"alert": alert["id"], "conflict": alert["conflict"]["id"]}
        acked = a.submit("alert-acknowledgement", body, ["alpha"])
        assert a.get("/api/v1/alerts")["items"][0]["acknowledged_at"] == acked["received_at"]
    with server.client(bravo) as b:
        refused = b.http.post(
            "/api/v1/submissions",
            content=b.sign("alert-acknowledgement", body, ["bravo"]),
            headers={"Content-Type": "application/jose"},
        )
        assert refused.status_code == 404  # not bravo's alert: as if it did not exist
        assert b.get("/api/v1/alerts")["items"] == []
    assert httpx.get(f"{server.url}/api/v1/alerts/stream").status_code == 401
