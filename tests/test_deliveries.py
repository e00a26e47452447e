"""Alert deliveries on the log (issue 18, item 2), over real HTTP on both backends: the first
time an alert reaches its party (an API read, a stream event, a webhook answered 2xx) the hub
logs one ``alert-delivery`` entry for that party alone, carrying the alert id, the party and the
time and nothing else; never twice, and not for a webhook that answered 5xx."""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from parley.client.http import Client
from parley.config import Settings
from parley.parties import jws

from .conftest import PartyHandle, Server
from .test_alerts import listen
from .test_screening_hub import HOSPITAL, operation, site
from .test_webhooks import Receiver

KIND = "alert-delivery"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhooks_allow_private=True)


class Failing:
    """A webhook target that answers 500 to everything."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(500)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def deliveries(client: Client) -> list[dict[str, Any]]:
    """The delivery entries ``client`` may see (reading these is no alert delivery)."""
    items: list[dict[str, Any]] = client.get("/api/v1/submissions", kind=KIND, limit=1000)["items"]
    return items


def wait_for_deliveries(client: Client, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(found := deliveries(client)) < n:
        assert time.monotonic() < deadline, f"{len(found)} delivery entries, not {n}"
        time.sleep(0.05)
    return found


def settled(server: Server) -> None:
    """Long enough for any delivery still collected to reach the log."""
    time.sleep(max(server.settings.checkpoint_interval_s * 4, 0.3))
    server.hub.deliveries.flush()


def conflict_for_alpha(server: Server, parties: dict[str, PartyHandle]) -> None:
    with server.client(parties["relief"]) as r, server.client(parties["alpha"]) as a:
        r.submit("site", site(*HOSPITAL))
        a.submit("operation", operation(*HOSPITAL, 500))


def check_entry(server: Server, parties: dict[str, PartyHandle], alert_id: str) -> None:
    """Exactly one entry for the alert, for alpha alone, with only the three fields; the public
    log holds its commitment only."""
    with server.client(parties["alpha"]) as a:
        (entry,) = wait_for_deliveries(a, 1)
        settled(server)
        assert [d["id"] for d in deliveries(a)] == [entry["id"]]
        body = entry["document"]["body"]
        assert set(body) == {"alert", "party", "delivered_at"}
        assert body["alert"] == alert_id and body["party"] == "alpha"
        assert entry["party"] == "hub" and entry["audience"] == ["alpha", "hub"]
        assert entry["document"]["audience"] == ["alpha"]
        receipt = a.get(f"/api/v1/submissions/{entry['id']}/receipt", wait=10)
        public = json.loads(base64.b64decode(receipt["entry"]))
        assert set(public) == {"v", "received_at", "commitment"}
        assert jws.Parsed(entry["jws"], stored=True).header["kid"] == "hub"
    for other in ("bravo", "relief", "monitor"):
        with server.client(parties[other]) as o:
            assert deliveries(o) == []
            assert o.http.get(f"/api/v1/submissions/{entry['id']}").status_code == 404


def test_an_api_read_is_recorded_once(server: Server, parties: dict[str, PartyHandle]) -> None:
    conflict_for_alpha(server, parties)
    with server.client(parties["alpha"]) as a:
        settled(server)
        assert deliveries(a) == []  # raised, not yet delivered
        for _ in range(3):
            (alert,) = a.get("/api/v1/alerts")["items"]
    check_entry(server, parties, alert["id"])
    with server.client(parties["alpha"]) as a:
        a.get("/api/v1/alerts")
        settled(server)
        assert len(deliveries(a)) == 1
        # Another process, or this one after a restart, that still holds the alert as never
        # delivered: the store refuses the second record (its nonce is the alert's).
        (stale,) = server.hub.store.alerts_for("alpha", alert_id=alert["id"])
        assert stale.delivered_seq == deliveries(a)[0]["sequence"]
        server.hub.deliveries.delivered("alpha", [replace(stale, delivered_seq=None)])
        assert server.hub.deliveries.flush() == 0
        assert len(deliveries(a)) == 1


def test_a_stream_event_is_recorded_once(server: Server, parties: dict[str, PartyHandle]) -> None:
    got: queue.Queue[tuple[str, Any]] = queue.Queue()
    ready, stop = threading.Event(), threading.Event()
    args = (server, parties["alpha"], got, ready, stop)
    threading.Thread(target=listen, args=args, daemon=True).start()
    assert ready.wait(10)
    conflict_for_alpha(server, parties)
    _, alert = got.get(timeout=10)
    check_entry(server, parties, alert["id"])
    stop.set()


def test_a_webhook_answered_2xx_is_recorded_once_and_5xx_is_not(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    failing = Failing()
    try:
        with server.client(parties["alpha"]) as a:
            assert a.http.put("/api/v1/webhook", json={"url": failing.url}).status_code == 200
            conflict_for_alpha(server, parties)
            deadline = time.monotonic() + 15
            while a.get("/api/v1/webhook")["failures"] == 0:
                assert time.monotonic() < deadline, "the webhook was never tried"
                time.sleep(0.05)
            settled(server)
            assert deliveries(a) == []  # refused by the target: not delivered
    finally:
        failing.server.shutdown()
        failing.server.server_close()

    working = Receiver()  # 500 once, then 200
    try:
        with server.client(parties["alpha"]) as a:
            assert a.http.put("/api/v1/webhook", json={"url": working.url}).status_code == 200
            with server.client(parties["relief"]) as r:
                r.submit("site", site(HOSPITAL[0] + 0.001, HOSPITAL[1]))
            working.wait_for(1)
            pushed = json.loads(working.received[0][1])
        check_entry(server, parties, pushed["id"])
    finally:
        working.server.shutdown()
        working.server.server_close()
