"""No process outlives `parley serve`. It starts a helper that checks signed submissions
(hub/checkers.py), and a TAXII add of an envelope starts its checking helper (intel/pool.py).
Once the server is stopped, by SIGTERM as a service manager stops it or SIGINT as Ctrl-C does,
every one of them ends too, whether it had finished starting or not."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.config import Settings
from parley.intel import collections, pool

from .conftest import PartyHandle
from .test_log_tamper import Serving, serve_settings

TAXII = "application/taxii+json;version=2.1"


def _children(pid: int) -> set[int]:
    """The process's descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _start_time(pid: int) -> str | None:
    """The process's start time (to tell it from a later process given the same id)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def _indicator(n: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": f"[ipv4-addr:value = '10.0.{n // 256}.{n % 256}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no checking helper starts")
# The helpers never touch the database: SQLite alone (backend "" is SQLite).
@pytest.mark.parametrize("backend", [""], ids=["sqlite"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_no_child_outlives_serve(
    settings: Settings, parties: dict[str, PartyHandle], tmp_path: Path, stop: signal.Signals
) -> None:
    hub = Serving(serve_settings(settings), tmp_path / "serve.log")
    started: dict[int, str | None] = {}
    try:
        assert hub.up(), hub.output()
        # The submission checking helper (hub/checkers.py) starts with the server.
        deadline = time.monotonic() + 20
        while not (early := _children(hub.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert early, "no submission checking helper started with the server"
        objects = [_indicator(n) for n in range(2 * pool.SPLIT_AT)]
        everyone = collections.id_of(collections.ALL)
        response = httpx.post(
            f"{hub.url}/taxii2/parley/collections/{everyone}/objects/",
            content=json.dumps({"objects": objects}),
            headers={
                "Accept": TAXII,
                "Content-Type": TAXII,
                "Authorization": f"Bearer {parties['alpha'].token}",
            },
            timeout=120,
        )
        assert response.status_code == 202, response.text
        assert response.json()["success_count"] == len(objects)
        started = {pid: _start_time(pid) for pid in _children(hub.proc.pid)}
        # One TAXII helper on two cores (a core each for it and the serving process), more on more.
        assert set(started) - early, f"no TAXII checking helper started: {started}"

        hub.proc.send_signal(stop)
        hub.proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        alive = started
        while time.monotonic() < deadline:
            alive = {p: t for p, t in started.items() if t is not None and _start_time(p) == t}
            if not alive:
                break
            time.sleep(0.1)
        assert not alive, f"still running after parley serve stopped: {sorted(alive)}"
    finally:
        hub.stop()
        for pid, begun in started.items():
            if begun is not None and _start_time(pid) == begun:
                os.kill(pid, signal.SIGKILL)
