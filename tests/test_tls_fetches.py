"""Every command that fetches from a hub without a party's key (``parley verify log``,
``parley receipt``, ``parley evidence``, ``parley mirror``) takes ``--ca`` and ``--insecure`` as
the party commands do: against a real ``serve --tls-cert`` hub it works with ``--ca``, is refused
with a sentence naming the hub without it, and refuses plain http:// beyond this machine unless
``--insecure``; both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from parley.client.http import Client
from parley.config import Settings
from parley.hub import setup

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, site
from .test_service import _env, refused, stop
from .test_service import cli as cli  # the fixture, shared
from .test_tls import TlsHub
from .test_tls import tls_hub as tls_hub  # the fixture, shared

pytestmark = pytest.mark.timeout(240)
FAR = "http://10.0.0.1:9"  # not this machine; nothing is ever sent there


def _untrusted(ran: Any, url: str) -> None:
    refused(ran, f"the hub at {url} presented a certificate this machine does not trust", "--ca")


def _commands(
    url: str, token: str, log_key: str, record: str, tmp_path: Path
) -> dict[str, list[str]]:
    policy = tmp_path / "policy.txt"
    policy.write_text(f"log {log_key}\nquorum none\n", encoding="utf-8")
    return {
        "verify log": ["verify", "log", url, "--log-key", log_key, "--json"],
        "receipt": ["receipt", record, "--hub", url, "--token", token, "--out", "r.json"],
        "evidence": ["evidence", record, "--hub", url, "--token", token, "--out", "e.json"],
        "mirror": [
            *("mirror", "--hub", url, "--policy", str(policy)),
            *("--data", str(tmp_path / "mirror"), "--once", "--json"),
        ],
    }


def test_each_fetching_command_trusts_a_tls_hub_only_through_ca(
    tls_hub: TlsHub,
    parties: dict[str, PartyHandle],
    cli: Any,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLEY_CA", raising=False)
    relief = parties["relief"]
    with Client(tls_hub.url, relief.id, relief.token, relief.key, ca=tls_hub.cert) as client:
        made = client.submit("site", site(*HOSPITAL))
        client.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
    log_key = setup.verifier_key(settings)
    commands = _commands(tls_hub.url, relief.token, log_key, made["id"], tmp_path)
    for name, argv in commands.items():
        _untrusted(cli(settings, *argv), tls_hub.url)
        ran = cli(settings, *argv, "--ca", str(tls_hub.cert))
        assert ran.returncode == 0, (name, ran.stdout, ran.stderr)

    assert (
        json.loads(cli(settings, *commands["verify log"], "--ca", str(tls_hub.cert)).stdout)["size"]
        >= 1
    )
    receipt = cli(settings, "verify", "receipt", "r.json", "--log-key", log_key, "--json")
    assert receipt.returncode == 0 and json.loads(receipt.stdout)["kind"] == "site", receipt
    checked = cli(settings, "verify", "evidence", "e.json", "--log-key", log_key, "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stdout
    # The mirror fetched the tiles too (over its own connections, with the same trust).
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("size", 0) >= 1 for e in events if e.get("event") != "started"), events
    # PARLEY_CA, as the party commands take it.
    monkeypatch.setenv("PARLEY_CA", str(tls_hub.cert))
    assert cli(settings, *commands["verify log"]).returncode == 0
    monkeypatch.delenv("PARLEY_CA")

    # The CoT feed reads the hub's export with the party's token: the same trust.
    feed = [*("cot", "serve", "--hub", tls_hub.url, "--token", relief.token, "--port", "0")]
    _untrusted(cli(settings, *feed), tls_hub.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "parley", *feed, "--ca", str(tls_hub.cert)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(settings),
    )
    try:
        assert proc.stdout is not None
        # printed once the first picture is read from the hub
        assert proc.stdout.readline().startswith("CoT feed on tcp://127.0.0.1:")
    finally:
        stop(proc)


def test_each_fetching_command_refuses_plain_http_beyond_this_machine_unless_insecure(
    server: Server,
    parties: dict[str, PartyHandle],
    cli: Any,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLEY_INSECURE", raising=False)
    relief = parties["relief"]
    with server.client(relief) as client:
        made = client.submit("site", site(*HOSPITAL))
        client.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
    log_key = setup.verifier_key(settings)
    for name, argv in _commands(FAR, relief.token, log_key, made["id"], tmp_path).items():
        ran = cli(settings, *argv)
        refused(ran, f"refusing plain http:// to {FAR}", "--insecure")
        assert "Traceback" not in ran.stderr, name
    feed = cli(settings, "cot", "serve", "--hub", FAR, "--token", relief.token, "--port", "0")
    refused(feed, f"refusing plain http:// to {FAR}", "--insecure")
    # 0.0.0.0 is not a loopback address, yet a connection to it reaches this machine's hub:
    # plain http that only --insecure allows, and that then works.
    port = server.url.rsplit(":", 1)[1]
    anywhere = f"http://0.0.0.0:{port}"
    for name, argv in _commands(anywhere, relief.token, log_key, made["id"], tmp_path).items():
        refused(cli(settings, *argv), f"refusing plain http:// to {anywhere}")
        ran = cli(settings, *argv, "--insecure")
        assert ran.returncode == 0, (name, ran.stdout, ran.stderr)
