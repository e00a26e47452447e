"""The hub has each new checkpoint cosigned by its witnesses (c2sp.org/tlog-witness), serves
and hands out the cosigned note, adopts a witness's size after a restart, and raises an alarm
when a witness has cosigned more than the log holds (a rolled-back log)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import uvicorn

from parley.api.app import create_app
from parley.config import Settings
from parley.hub import setup
from parley.hub.core import Hub
from parley.log import checkpoint as cp
from parley.log import note
from parley.witness import datadir
from parley.witness.app import app_for

from .conftest import PartyHandle, Server, free_port
from .test_screening_hub import site


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _serve(app: object) -> Running:
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", uv, thread)


@pytest.fixture
def witnesses(tmp_path: Path, settings: Settings) -> Iterator[list[tuple[Running, str]]]:
    made = []
    for i in range(3):
        data = tmp_path / f"witness{i}"
        signer = datadir.init(data, f"witness.test/w{i}")
        datadir.add_log(data, settings.origin, setup.verifier_key(settings))
        made.append((_serve(app_for(data)), signer.verifier().key_string()))
    yield made
    for running, _ in made:
        running.stop()


def _hub(settings: Settings) -> tuple[Running, Hub]:
    hub = Hub(settings)
    return _serve(create_app(settings, hub)), hub


def _verifiers(witnesses: list[tuple[Running, str]]) -> list[note.CosignatureVerifier]:
    return [note.CosignatureVerifier.from_key(k) for _, k in witnesses]


def test_receipts_carry_every_witness_cosignature(
    settings: Settings,
    parties: dict[str, PartyHandle],
    witnesses: list[tuple[Running, str]],
) -> None:
    settings = replace(settings, witnesses=tuple(f"{r.url} {k}" for r, k in witnesses))
    running, hub = _hub(settings)
    try:
        server = Server(running.url, hub, settings)
        log_key = note.Verifier.from_key(setup.verifier_key(settings))
        with server.client(parties["relief"]) as r:
            for i in range(3):
                made = r.submit("site", site(37.1 + i / 10, 36.2))
                receipt = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
                checkpoint, verified = cp.verify_cosigned_checkpoint(
                    receipt["checkpoint"], log_key, settings.origin, _verifiers(witnesses), 3
                )
                assert checkpoint.size >= made["sequence"] + 1
                assert {v.name for v in verified} == {f"witness.test/w{i}" for i in range(3)}
        served = httpx.get(f"{running.url}/log/checkpoint").text
        cp.verify_cosigned_checkpoint(served, log_key, settings.origin, _verifiers(witnesses), 3)
    finally:
        running.stop()
        hub.close()


def test_a_restarted_hub_adopts_the_witness_size_and_a_rollback_raises_an_alarm(
    settings: Settings,
    parties: dict[str, PartyHandle],
    witnesses: list[tuple[Running, str]],
    tmp_path: Path,
) -> None:
    if settings.database_url:
        pytest.skip("the rollback is a restored copy of a SQLite data directory")
    settings = replace(settings, witnesses=tuple(f"{r.url} {k}" for r, k in witnesses))
    log_key = note.Verifier.from_key(setup.verifier_key(settings))
    backup = tmp_path / "backup"

    def submit_and_wait(hub_url: str, hub: Hub, n: int) -> dict[str, object]:
        server = Server(hub_url, hub, settings)
        with server.client(parties["relief"]) as r:
            for i in range(n):
                made = r.submit("site", site(37.0 + i / 100, 35.5 + hub.log.tree.size / 100))
            return r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)  # type: ignore[no-any-return]

    running, hub = _hub(settings)
    try:
        submit_and_wait(running.url, hub, 2)
    finally:
        running.stop()
        hub.close()
    shutil.copytree(settings.data_dir, backup)
    running, hub = _hub(settings)  # a restart: the witnesses' sizes are learnt from their 409s
    try:
        receipt = submit_and_wait(running.url, hub, 3)
        cp.verify_cosigned_checkpoint(
            str(receipt["checkpoint"]), log_key, settings.origin, _verifiers(witnesses), 3
        )
        assert hub.log.cosigners.alarms == []
    finally:
        running.stop()
        hub.close()
    shutil.rmtree(settings.data_dir)
    shutil.copytree(backup, settings.data_dir)  # the operator restores yesterday's backup
    running, hub = _hub(settings)
    try:
        receipt = submit_and_wait(running.url, hub, 1)
        with pytest.raises(cp.CheckpointError):
            cp.verify_cosigned_checkpoint(
                str(receipt["checkpoint"]), log_key, settings.origin, _verifiers(witnesses)
            )
        assert len(hub.log.cosigners.alarms) == 3
        assert "the log was rolled back" in hub.log.cosigners.alarms[0]
        health = httpx.get(f"{running.url}/healthz").json()
        assert health["status"] == "alarm" and len(health["alarms"]) == 3
    finally:
        running.stop()
        hub.close()
