"""Webhooks must not make the hub a request forger or a port scanner (issue 10): https only, to
public addresses only unless the operator allows otherwise, checked again on the address actually
connected to; no echo of how a target answered; no failure of an old URL recorded against a new
one; signatures made with a webhook key of their own. Real sockets, both backends."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature

from parley.config import Settings
from parley.errors import BadRequest
from parley.hub import webhooks
from parley.hub.core import Hub
from parley.hub.webhooks import verify
from parley.parties.keys import b64url_decode, load_private_key, public_key_from_raw
from parley.parties.keys import public_raw as raw

from .conftest import PartyHandle, Server, free_port
from .test_screening_hub import HOSPITAL, operation, site

PUBLIC = "93.184.215.14"  # a global unicast literal: resolves without DNS, never contacted here


class Receiver:
    """A loopback HTTP endpoint answering ``status``; with ``hold`` set, each request waits
    for it before answering."""

    def __init__(self, status: int = 200, hold: threading.Event | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.started = threading.Event()
        self.answered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.started.set()
                if hold is not None:
                    hold.wait(15)
                receiver.received.append((dict(self.headers), body))
                self.send_response(status)
                self.end_headers()
                receiver.answered.set()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(status: int = 200, hold: threading.Event | None = None) -> Receiver:
        made.append(Receiver(status, hold))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alert_alpha(server: Server, parties: dict[str, PartyHandle], first: bool = True) -> None:
    with server.client(parties["relief"]) as r, server.client(parties["alpha"]) as a:
        if first:
            r.submit("site", site(*HOSPITAL))
        a.submit("operation", operation(*HOSPITAL, 500))


def _put(server: Server, party: PartyHandle, url: str) -> httpx.Response:
    return httpx.put(
        f"{server.url}/api/v1/webhook",
        json={"url": url},
        headers={"Authorization": f"Bearer {party.token}"},
        timeout=20,
    )


def _state(server: Server, party: PartyHandle) -> httpx.Response:
    return httpx.get(
        f"{server.url}/api/v1/webhook", headers={"Authorization": f"Bearer {party.token}"}
    )


REFUSED_BY_DEFAULT = [
    f"http://{PUBLIC}/hook",  # plain http to a public host
    "http://127.0.0.1:9/hook",  # plain http to loopback, not allowed by the operator
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # loopback inside an IPv6 address
    "https://[64:ff9b::a01:203]/hook",  # NAT64 of 10.1.2.3
    "https://224.0.0.1/hook",  # multicast
    "https://0.0.0.0/hook",  # unspecified
    "https://2130706433/hook",  # 127.0.0.1 as one number
    "https://localhost/hook",  # a name that resolves to loopback
    "https://no-such-host.invalid/hook",  # resolves to nothing
    "ftp://example.org/hook",
    f"https://user:secret@{PUBLIC}/hook",
    f"https://{PUBLIC}:99999/hook",
]


def test_private_and_plain_http_targets_are_refused_by_default(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha = parties["alpha"]
    for url in REFUSED_BY_DEFAULT:
        response = _put(server, alpha, url)
        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["field"] == "url" and body["detail"].startswith("the webhook url is refused")
    assert _state(server, alpha).status_code == 404  # nothing was set
    # A public https target is accepted (nothing is sent until there is an alert for it).
    accepted = _put(server, alpha, f"https://{PUBLIC}/hook")
    assert accepted.status_code == 200 and accepted.json()["url"] == f"https://{PUBLIC}/hook"


def test_the_operator_may_allow_private_targets() -> None:
    for url in ("http://127.0.0.1:9/hook", "https://10.1.2.3/", "https://localhost/"):
        assert webhooks.check_url(url, allow_private=True) == url
        with pytest.raises(BadRequest):
            webhooks.check_url(url)
    # even then, plain http only to loopback
    for url in (f"http://{PUBLIC}/", "http://10.1.2.3/"):
        with pytest.raises(BadRequest, match="https"):
            webhooks.check_url(url, allow_private=True)


@pytest.fixture
def allowing(settings: Settings, parties: dict[str, PartyHandle]) -> Iterator[Server]:
    """A served hub whose operator allows private targets (the receivers are on loopback), with
    retries shortened so a failed delivery is recorded quickly."""
    import uvicorn

    from parley.api.app import create_app

    allowed = replace(settings, webhooks_allow_private=True)
    hub = Hub(allowed)
    hub.webhooks.backoff = ()
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(allowed, hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    _wait(lambda: uv.started, "the server")
    try:
        yield Server(f"http://127.0.0.1:{port}", hub, allowed)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        hub.close()


def test_the_state_does_not_say_how_the_target_answered(
    allowing: Server, parties: dict[str, PartyHandle], receivers: Callable[..., Receiver]
) -> None:
    alpha = parties["alpha"]
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused
    asks_for_password = receivers(status=401).url
    seen = []
    for n, url in enumerate([closed, asks_for_password]):
        assert _put(allowing, alpha, url).status_code == 200
        _alert_alpha(allowing, parties, first=n == 0)
        _wait(lambda: _state(allowing, alpha).json()["failures"] >= 1, "a failed delivery")
        state = _state(allowing, alpha).json()
        assert state["last_error"] == "the last delivery failed"
        assert state["url"] == url
        # The party's own URL and the time carry random digits (a port of 40145 once
        # held "401"), so the leak check reads every other field.
        text = json.dumps({k: v for k, v in state.items() if k not in ("url", "updated_at")})
        for leak in ("refused", "401", "unauthorized", "connect", "errno", "http "):
            assert leak not in text.lower(), (leak, text)
        seen.append({k: v for k, v in state.items() if k in ("last_error", "delivered_cursor")})
    assert seen[0]["last_error"] == seen[1]["last_error"]


def test_a_failure_of_the_old_url_is_not_recorded_against_the_new_one(
    allowing: Server, parties: dict[str, PartyHandle], receivers: Callable[..., Receiver]
) -> None:
    alpha = parties["alpha"]
    release = threading.Event()
    old = receivers(status=500, hold=release)
    new = receivers(status=200)
    assert _put(allowing, alpha, old.url).status_code == 200
    _alert_alpha(allowing, parties)
    assert old.started.wait(15)  # the delivery to the old URL is under way
    assert _put(allowing, alpha, new.url).status_code == 200
    release.set()
    assert old.answered.wait(15)
    time.sleep(0.5)  # the delivery thread records the old URL's failure, or not
    state = _state(allowing, alpha).json()
    assert state["url"] == new.url
    assert state["failures"] == 0 and state["last_error"] is None
    # the new URL gets what is raised from now on
    _alert_alpha(allowing, parties, first=False)
    _wait(lambda: len(new.received) >= 1, "a delivery to the new URL")
    _wait(lambda: _state(allowing, alpha).json()["delivered_cursor"] == 2, "progress")


def test_a_name_that_later_resolves_to_loopback_is_not_contacted(
    server: Server,
    parties: dict[str, PartyHandle],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: public when the URL is set, loopback when the hub delivers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    contacted: list[object] = []

    def accept() -> None:
        while listener.fileno() != -1:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            contacted.append(conn)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    real = socket.getaddrinfo
    answer = {"hook.example": PUBLIC}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answer:
            return real(answer[host], *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    alpha = parties["alpha"]
    try:
        assert _put(server, alpha, f"https://hook.example:{port}/hook").status_code == 200
        answer["hook.example"] = "127.0.0.1"
        _alert_alpha(server, parties)
        _wait(lambda: _state(server, alpha).json()["failures"] >= 1, "a refused delivery", 30)
        assert contacted == []
    finally:
        listener.close()


def test_deliveries_are_signed_with_the_webhook_key_not_the_log_key(
    allowing: Server, parties: dict[str, PartyHandle], receivers: Callable[..., Receiver]
) -> None:
    alpha = parties["alpha"]
    receiver = receivers(status=200)
    assert _put(allowing, alpha, receiver.url).status_code == 200
    _alert_alpha(allowing, parties)
    _wait(lambda: len(receiver.received) >= 1, "a delivery")
    jwk = httpx.get(f"{allowing.url}/api/v1/webhook/key").json()
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    webhook_key = public_key_from_raw(b64url_decode(jwk["x"]))
    log_key = load_private_key(allowing.settings.hub_key_path).public_key()
    headers, body = receiver.received[0]
    verify(webhook_key, headers["Parley-Timestamp"], headers["Parley-Signature"], body)
    with pytest.raises(InvalidSignature):
        verify(log_key, headers["Parley-Timestamp"], headers["Parley-Signature"], body)
    path = allowing.settings.webhook_key_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_data_directory_without_a_webhook_key_gets_one_on_start(settings: Settings) -> None:
    settings.webhook_key_path.unlink()
    hub = Hub(settings)
    try:
        assert stat.S_IMODE(os.stat(settings.webhook_key_path).st_mode) == 0o600
        made = load_private_key(settings.webhook_key_path).public_key()
        assert raw(hub.webhooks.public_key()) == raw(made)
        assert raw(made) != raw(load_private_key(settings.hub_key_path).public_key())
    finally:
        hub.close()
    assert [p.name for p in settings.data_dir.iterdir() if p.name.startswith(".")] == []


def test_the_switch_is_off_by_default_and_must_be_a_boolean(tmp_path: Any) -> None:
    from parley import config

    data = tmp_path / "data"
    data.mkdir()
    assert config.Settings().webhooks_allow_private is False
    assert "webhooks_allow_private = false" in config.dump(config.Settings())
    (data / "parley.toml").write_text(config.dump(config.Settings()))
    assert config.load(data).webhooks_allow_private is False
    (data / "parley.toml").write_text("webhooks_allow_private = true\n")
    assert config.load(data).webhooks_allow_private is True
    (data / "parley.toml").write_text('webhooks_allow_private = "false"\n')
    with pytest.raises(BadRequest, match="true or false"):
        config.load(data)


def test_a_slow_name_lookup_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow(*_: Any, **__: Any) -> Any:
        release.wait(10)
        raise OSError("too late")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    monkeypatch.setattr(webhooks, "RESOLVE_TIMEOUT_S", 0.2)
    began = time.monotonic()
    try:
        with pytest.raises(BadRequest, match="refused"):
            webhooks.check_url("https://slow.example/hook")
        assert time.monotonic() - began < 2
    finally:
        release.set()
