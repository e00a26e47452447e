"""Webhooks against a real HTTP receiver: signed with the hub's webhook key, retried, in order,
exactly the caller's alerts. The receiver is on loopback over plain http, which the operator
must allow (``webhooks_allow_private``); tests/test_webhook_safety.py covers the default."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from parley.config import Settings
from parley.hub.webhooks import verify
from parley.parties.keys import b64url_decode, public_key_from_raw

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, operation, site


class Receiver:
    """Answers 500 to the first delivery, 200 after, and keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts == 1:
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int) -> None:
        deadline = time.monotonic() + 15
        while len(self.received) < n:
            assert time.monotonic() < deadline, f"{len(self.received)} deliveries, not {n}"
            time.sleep(0.05)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhooks_allow_private=True)


@pytest.fixture
def receiver() -> Any:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def test_alerts_are_pushed_signed_and_retried(
    server: Server, parties: dict[str, PartyHandle], receiver: Receiver
) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(alpha) as a, server.client(relief) as r, server.client(bravo) as b:
        response = a.http.put("/api/v1/webhook", json={"url": receiver.url})
        assert response.status_code == 200 and response.json()["url"] == receiver.url
        assert a.http.put("/api/v1/webhook", json={"url": "ftp://x"}).status_code == 400
        r.submit("site", site(*HOSPITAL))
        b.submit("operation", operation(*HOSPITAL, 500))  # bravo's alert, not alpha's
        a.submit("operation", operation(*HOSPITAL, 500))
        receiver.wait_for(2)
        assert receiver.attempts == 3  # the first delivery failed and was retried
        kinds = [json.loads(body)["conflict"]["kind"] for _, body in receiver.received]
        assert sorted(kinds) == ["deconfliction", "protected-site"]
        jwk = a.get("/api/v1/webhook/key")
        public = public_key_from_raw(b64url_decode(jwk["x"]))
        for headers, body in receiver.received:
            verify(public, headers["Parley-Timestamp"], headers["Parley-Signature"], body)
            with pytest.raises(InvalidSignature):
                verify(
                    public, headers["Parley-Timestamp"], headers["Parley-Signature"], body + b" "
                )
        state = a.get("/api/v1/webhook")
        assert state["failures"] == 0 and state["last_error"] is None
        assert a.http.delete("/api/v1/webhook").status_code == 204
        assert a.http.get("/api/v1/webhook").status_code == 404
