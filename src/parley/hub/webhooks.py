"""Pushing each party's alerts to its webhook, signed by the hub, retried until delivered.

Delivery is at least once and in order: a party's cursor only moves past an alert its endpoint
accepted (any 2xx), so a receiver should ignore alert ids it has already seen. Each POST carries

    Parley-Timestamp: <unix seconds>
    Parley-Signature: ed25519=<base64 signature>

where the signature is made with the hub's webhook key (``webhook.key`` in the data directory,
its public half served at ``GET /api/v1/webhook/key``) over
``b"parley-webhook/1\\n" + timestamp + b"\\n" + body``. The webhook key is not the log-signing
key: nothing a party can make the hub sign for its webhook can pass for a checkpoint signature.

A webhook makes the hub send requests on a party's behalf, so targets are limited: https only,
to hosts whose every address is public. Private, loopback, link-local, multicast, unspecified
and reserved addresses are refused (plain http is allowed to loopback only) unless the operator
sets ``webhooks_allow_private``. The host is resolved and checked when the URL is set and again
before every delivery, and the hub connects to exactly the address it checked, so a name that
later resolves elsewhere (DNS rebinding) reaches nothing internal. Redirects are not followed and
proxies from the environment are not used. How a target answered goes to the operator's log
only: a party sees a failure count and a fixed wording, never a probe of the hub's network.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley.errors import BadRequest
from parley.parties import keys
from parley.store.db import Alert, Store

DOMAIN = b"parley-webhook/1\n"
FAILED = "the last delivery failed"
log = logging.getLogger("parley.hub.webhooks")

Render = Callable[[Alert, str], dict[str, Any]]
Delivered = Callable[[str, Alert], None]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def signed_message(timestamp: str, body: bytes) -> bytes:
    return DOMAIN + timestamp.encode("ascii") + b"\n" + body


def verify(public_key: Ed25519PublicKey, timestamp: str, signature: str, body: bytes) -> None:
    """What a receiver runs; raises cryptography's InvalidSignature on a forgery."""
    raw = base64.b64decode(signature.removeprefix("ed25519="))
    public_key.verify(raw, signed_message(timestamp, body))


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The webhook signing key, made on first use (data directories older than the key).

    Written to a temporary file and linked into place, so two hubs starting at once on one data
    directory end up with the same key rather than each overwriting the other's."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        keys.write_private_key(tmp, Ed25519PrivateKey.generate())
        try:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return keys.load_private_key(path)


# -- where a webhook may point -------------------------------------------------------------------


class Refused(Exception):
    """The target is not one the hub may send to; the message is safe to show the party."""


# getaddrinfo takes no timeout, and a party choosing the name chooses how slow its DNS answers:
# look names up on threads of their own and stop waiting after RESOLVE_TIMEOUT_S.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="parley-resolve")
RESOLVE_TIMEOUT_S = 5.0


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (a literal resolves to itself); none if the lookup
    fails or takes longer than RESOLVE_TIMEOUT_S."""
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        found = lookup.result(timeout=RESOLVE_TIMEOUT_S)
    except (OSError, UnicodeError, ValueError, FuturesTimeout):
        return []
    addresses: list[Address] = []
    for *_, sockaddr in found:
        with contextlib.suppress(ValueError):
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return addresses


def is_public(address: Address) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast, unspecified,
    reserved or shared, also when wrapped in an IPv6 address that carries an IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return is_public(embedded)
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


def _refusal(scheme: str, addresses: Sequence[Address], allow_private: bool) -> str | None:
    if not addresses:
        return "its host does not resolve to public internet addresses only"
    if scheme == "http":
        if allow_private and all(a.is_loopback for a in addresses):
            return None
        return "it must be https:// (plain http is for a loopback receiver in tests only)"
    if allow_private or all(is_public(a) for a in addresses):
        return None
    # One wording for "private" and "does not resolve": the answer must not map internal names.
    return "its host does not resolve to public internet addresses only"


def _split(url: str) -> tuple[str, str, int]:
    # httpx's parser, the same that sends the request: no second reading of the URL to differ.
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL:
        raise Refused("it is not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise Refused("it must be an https:// URL")
    if parts.userinfo:
        raise Refused("it must not carry a user name or password")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise Refused("its port is not a number from 1 to 65535")
    if not parts.raw_host:
        raise Refused("it names no host")
    return parts.scheme, parts.raw_host.decode("ascii"), port


def target(url: str, allow_private: bool) -> tuple[str, list[Address]]:
    """Resolve and check ``url``: its scheme and the addresses to connect to, or Refused."""
    scheme, host, port = _split(url)
    addresses = resolve(host, port)
    reason = _refusal(scheme, addresses, allow_private)
    if reason is not None:
        raise Refused(reason)
    return scheme, addresses


def check_url(url: object, allow_private: bool = False) -> str:
    """What ``PUT /api/v1/webhook`` accepts; resolves the host, so call it off the event loop."""
    if not isinstance(url, str) or len(url) > 2000:
        raise BadRequest("url must be an https:// URL of at most 2000 characters", field="url")
    try:
        target(url, allow_private)
    except Refused as exc:
        raise BadRequest(f"the webhook url is refused: {exc}", field="url") from None
    return url


# -- delivery ------------------------------------------------------------------------------------


# At most ten delivery rounds a second: an alert waits at most this long for its round.
ROUND_GAP_S = 0.1


class Deliveries:
    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        render: Render,
        backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0),
        allow_private: bool = False,
        on_delivered: Delivered | None = None,
    ) -> None:
        self.store = store
        self.on_delivered = on_delivered
        self.key = key
        self.render = render
        self.backoff = backoff
        self.allow_private = allow_private
        self._wake = threading.Event()
        self._stop = threading.Event()
        # No keep-alive: every POST connects afresh to an address checked just before it, and
        # a pooled connection keyed by address can never carry another host's TLS name.
        self._http = httpx.Client(
            timeout=10,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._thread = threading.Thread(target=self._run, name="parley-webhooks", daemon=True)
        self._thread.start()

    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

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
            # Every accepted submission wakes us: under load that was a query and a thread
            # switch per submission. Wakes that come meanwhile are kept, and served together.
            self._stop.wait(ROUND_GAP_S)

    def _deliver(self, hook: dict[str, Any]) -> None:
        party = hook["party"]
        for alert in self.store.alerts_for(party, after=hook["delivered_seq"], limit=100):
            body = json.dumps(self.render(alert, party), sort_keys=True).encode()
            error = self._post(hook["url"], body)
            if error is not None:
                log.warning(
                    "webhook of %s: delivering alert cursor %d to %s failed: %s",
                    party,
                    alert.seq,
                    hook["url"],
                    error,
                )
            # Recorded against this hook only: if the party set another URL meanwhile, the
            # new one starts clean.
            self.store.webhook_progress(party, hook["hook_id"], alert.seq, failed=error is not None)
            if error is not None:
                return  # in order: try this one again next round
            if self.on_delivered is not None:
                self.on_delivered(party, alert)  # answered 2xx: it reached the party

    def _post(self, url: str, body: bytes) -> str | None:
        """Deliver ``body``, retrying with back-off; None, or why it failed (for the log)."""
        error: str | None = "not attempted"
        for delay in (0.0, *self.backoff):
            if self._stop.wait(delay):
                return "hub stopping"
            try:
                error = self._attempt(url, body)
            except Refused as exc:
                error = f"target refused: {exc}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                return None
        return error

    def _attempt(self, url: str, body: bytes) -> str | None:
        # Checked again now, whatever was checked when the URL was set: DNS may have changed.
        _, addresses = target(url, self.allow_private)
        original = httpx.URL(url)
        pinned = original.copy_with(host=str(addresses[0]))
        timestamp = str(int(time.time()))
        signature = base64.b64encode(self.key.sign(signed_message(timestamp, body))).decode()
        response = self._http.post(
            pinned,
            content=body,
            headers={
                "Host": original.netloc.decode("ascii"),
                "Content-Type": "application/json",
                "Parley-Timestamp": timestamp,
                "Parley-Signature": f"ed25519={signature}",
            },
            # TLS still checks the certificate against the name, not the pinned address.
            extensions={"sni_hostname": original.raw_host.decode("ascii")},
        )
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
