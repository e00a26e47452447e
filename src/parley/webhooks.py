"""Pushing each party's alerts to its webhook, signed by the hub, retried until delivered.

Delivery is at least once and in order: a party's cursor only moves past an alert its endpoint
accepted (any 2xx), so a receiver should ignore alert ids it has already seen. Each POST carries

    Parley-Timestamp: <unix seconds>
    Parley-Signature: ed25519=<base64 signature>

where the signature is the hub's Ed25519 signature over
``b"parley-webhook/1\\n" + timestamp + b"\\n" + body``; the prefix keeps it from ever being
mistaken for a checkpoint signature made with the same key.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley.errors import BadRequest
from parley.store.db import Alert, Store

DOMAIN = b"parley-webhook/1\n"
log = logging.getLogger("parley.webhooks")

Render = Callable[[Alert, str], dict[str, Any]]


def signed_message(timestamp: str, body: bytes) -> bytes:
    return DOMAIN + timestamp.encode("ascii") + b"\n" + body


def verify(public_key: Ed25519PublicKey, timestamp: str, signature: str, body: bytes) -> None:
    """What a receiver runs; raises cryptography's InvalidSignature on a forgery."""
    raw = base64.b64decode(signature.removeprefix("ed25519="))
    public_key.verify(raw, signed_message(timestamp, body))


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise BadRequest("url must be an http:// or https:// URL", field="url")
    return url


class Deliveries:
    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        render: Render,
        backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0),
    ) -> None:
        self.store = store
        self.key = key
        self.render = render
        self.backoff = backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._http = httpx.Client(timeout=10)
        self._thread = threading.Thread(target=self._run, name="parley-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5)
            self._wake.clear()
            try:
                for hook in self.store.webhooks():
                    self._deliver(hook)
            except Exception:  # a broken database round must not end delivery for good
                log.exception("webhook delivery round failed")

    def _deliver(self, hook: dict[str, Any]) -> None:
        party = hook["party"]
        for alert in self.store.alerts_for(party, after=hook["delivered_seq"], limit=100):
            body = json.dumps(self.render(alert, party), sort_keys=True).encode()
            error = self._post(hook["url"], body)
            self.store.webhook_progress(party, alert.seq, error)
            if error is not None:
                return  # in order: try this one again next round

    def _post(self, url: str, body: bytes) -> str | None:
        error = "not attempted"
        for delay in (0.0, *self.backoff):
            if self._stop.wait(delay):
                return "hub stopping"
            timestamp = str(int(time.time()))
            signature = base64.b64encode(self.key.sign(signed_message(timestamp, body))).decode()
            try:
                response = self._http.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "Parley-Timestamp": timestamp,
                        "Parley-Signature": f"ed25519={signature}",
                    },
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= response.status_code < 300:
                return None
            error = f"HTTP {response.status_code}"
        return error
