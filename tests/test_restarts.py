"""kill -9 under load, again and again: every receipt handed out must hold against the final log.

A `parley serve` process takes submissions from concurrent clients that ask for their receipt
(``POST …?receipt=``); it is killed with SIGKILL at random moments and restarted on the same
database, each restart passing its own start-up check. Each server is the ``parley serve``
command run in a process forked from a server that has imported parley already: importing the
whole API costs seconds, which would otherwise leave room for only a restart or two.

At the end every receipt obtained must verify offline and be part of the final log: same entry
bytes at its index, and the checkpoint it holds consistent with the latest one (the final tree
has the same root at that size, and the hub's consistency proof verifies).
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import random
import sys
import threading
import time
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.client import receipts
from parley.client.http import Client
from parley.client.mirror import verify_remote
from parley.config import Settings
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.verifier import VerifierState

from .conftest import PartyHandle, free_port
from .test_log_api import SITE
from .test_log_tamper import serve_settings

KILLS = 5
BUDGET_S = 15.0  # no new kill round starts after this; a restart costs a fork and start-up


def _parley_serve(data_dir: str, database_url: str, port: int, log_path: str) -> None:
    """The child: `parley serve --data … --port …`, its output to ``log_path``."""
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    if database_url:
        os.environ["PARLEY_DATABASE_URL"] = database_url
    sys.argv = ["parley", "serve", "--data", data_dir, "--port", str(port)]
    from parley.cli.app import main

    main()


@pytest.fixture(scope="module")
def forkserver() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["parley.cli.app", "parley.api.app", "parley.hub.core"])
    return context


class Forked:
    """A `parley serve` process; ``kill`` is SIGKILL."""

    def __init__(
        self, context: ForkServerContext, settings: Settings, log_path: Path, port: int = 0
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc = context.Process(
            target=_parley_serve,
            args=(str(settings.data_dir), settings.database_url, self.port, str(log_path)),
        )
        self.proc.start()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def up(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.is_alive():
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.02)
        raise AssertionError(f"parley serve neither answered nor exited:\n{self.output()}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()


class Submitter(threading.Thread):
    """Submits records one at a time, keeping each receipt the hub hands out."""

    def __init__(self, url: str, party: PartyHandle, audience: Any) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.party = party
        self.audience = audience
        self.stop = threading.Event()
        self.receipts: list[dict[str, Any]] = []
        self.errors = 0

    def run(self) -> None:
        with Client(self.url, self.party.id, self.party.token, self.party.key) as client:
            while not self.stop.is_set():
                try:
                    response = client.http.post(
                        "/api/v1/submissions",
                        params={"receipt": 5},
                        content=client.sign("site", SITE, self.audience),
                        headers={"Content-Type": "application/jose"},
                        timeout=10,
                    )
                except httpx.TransportError:
                    self.errors += 1  # the hub is down or was killed mid-request
                    time.sleep(0.05)
                    continue
                if response.status_code == 201 and response.json().get("receipt"):
                    self.receipts.append(response.json()["receipt"])


def _check_against_final_log(
    url: str, key: str, found: list[dict[str, Any]], state_path: Path
) -> None:
    verify_remote(url, key, state_path, progress=False)
    final = VerifierState.load(state_path)
    tree = merkle.MerkleTree.from_packed(final.leaves)
    verifier = note.Verifier.from_key(key)
    by_index: dict[int, str] = {}
    for receipt in found:
        receipts.verify(receipt, key)
        index = receipt["index"]
        assert (
            by_index.setdefault(index, receipt["submission"]["id"]) == (receipt["submission"]["id"])
        ), f"two receipted submissions hold index {index}"
        entry = base64.b64decode(receipt["entry"])
        assert index < final.size, f"receipted entry {index} is gone from the final log"
        assert final.leaf_hash(index) == merkle.leaf_hash(entry), f"entry {index} changed"
        signed = cp.verify_checkpoint(receipt["checkpoint"], verifier, verifier.name)
        assert tree.root(signed.size) == signed.root, f"checkpoint {signed.size} was forked"
        if signed.size < final.size:
            proof = httpx.get(
                f"{url}/log/proof/consistency", params={"from": signed.size, "to": final.size}
            ).json()["proof"]
            merkle.verify_consistency(
                signed.size,
                final.size,
                signed.root,
                final.root,
                [base64.b64decode(h) for h in proof],
            )


def test_every_receipt_survives_kill_9_restarts(
    settings: Settings,
    parties: dict[str, PartyHandle],
    tmp_path: Path,
    forkserver: ForkServerContext,
) -> None:
    settings = serve_settings(settings)
    rng = random.Random()
    hub = Forked(forkserver, settings, tmp_path / "serve-0.log")
    assert hub.up(), hub.output()
    port = hub.port
    submitters = [
        Submitter(f"http://127.0.0.1:{port}", parties["relief"], "all"),
        Submitter(f"http://127.0.0.1:{port}", parties["alpha"], ["bravo"]),
        Submitter(f"http://127.0.0.1:{port}", parties["bravo"], "all"),
    ]
    for s in submitters:
        s.start()
    kills = 0
    try:
        deadline = time.monotonic() + BUDGET_S
        while kills < KILLS and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 1.2))
            hub.kill()  # SIGKILL: no shutdown handler runs
            kills += 1
            hub = Forked(forkserver, settings, tmp_path / f"serve-{kills}.log", port)
            # Answering at all means the restarted hub passed its start-up check.
            started = time.monotonic()
            assert hub.up(), hub.output()
            print(f"restart {kills}: {time.monotonic() - started:.2f} s")
        # Receipts from the last life too: enough that the check below has something to check
        # on a slow machine, where a short life may hand out none.
        settle = time.monotonic() + 15
        while time.monotonic() < settle:
            time.sleep(0.5)
            if sum(len(s.receipts) for s in submitters) >= max(kills, 2):
                break
    finally:
        for s in submitters:
            s.stop.set()
        for s in submitters:
            s.join(timeout=15)
        hub.kill()
    found = [r for s in submitters for r in s.receipts]
    print(f"{kills} kill -9 restarts, {len(found)} receipts")  # shown with pytest -s
    assert kills >= 2 and len(found) >= kills
    final = Forked(forkserver, settings, tmp_path / "serve-final.log")
    try:
        assert final.up(), final.output()
        key = httpx.get(f"{final.url}/log/verifier-key").text.strip()
        _check_against_final_log(final.url, key, found, tmp_path / "state.json")
    finally:
        final.kill()
