"""`parley serve --workers N`: one port, N processes each a whole hub, on both backends.

Submissions over many connections land on whichever worker accepted each, and the log stays one
dense, verifying log; a worker sees what another committed (its screening catches up from the
database, on SQLite too); two conflicting operations sent at the same moment to two workers
raise one conflict, alerted to both parties; and no worker outlives the parent, however the
parent stops. Which worker holds a connection is read from /proc (the server side of the
connection is a socket only that worker has open)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.client.http import Client
from parley.client.mirror import verify_remote
from parley.config import Settings
from parley.log import checkpoint as cp
from parley.log import note

from .conftest import PartyHandle, free_port
from .test_log_api import SITE
from .test_log_tamper import serve_settings
from .test_screening_hub import east_of, operation, site
from .test_serve_children import _children, _start_time

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="finds each connection's worker in /proc"
)


class Workers:
    """A real `parley serve --workers N` process, its output kept in a file."""

    def __init__(self, settings: Settings, log_path: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parley",
                    "serve",
                    "--data",
                    str(settings.data_dir),
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                env={**os.environ, "PARLEY_DATABASE_URL": settings.database_url},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def up(self, count: int = 2, timeout: float = 120) -> list[int]:
        """The workers' process ids, once ``count`` of them have started serving."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            if self.output().count("Application startup complete") >= count:
                return self.workers()
            time.sleep(0.1)
        raise AssertionError(f"the workers did not start:\n{self.output()}")

    def workers(self) -> list[int]:
        found = []
        for pid in _children(self.proc.pid):
            try:
                line = (Path("/proc") / str(pid) / "cmdline").read_bytes()
                stat = (Path("/proc") / str(pid) / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.proc.pid and b"resource_tracker" not in line:
                found.append(pid)
        return sorted(found)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process holding the server side of the loopback connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":"), fields[2].split(":")
        if int(local[1], 16) == server_port and int(remote[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                try:
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


class Conn:
    """One kept-alive HTTP connection, and the worker that accepted it."""

    def __init__(self, port: int, pids: list[int]) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.http.request("GET", "/healthz")
        self.http.getresponse().read()
        assert self.http.sock is not None
        self.local = self.http.sock.getsockname()[1]
        self.worker = _owner(port, self.local, pids)

    def send(self, method: str, path: str, token: str, body: bytes, kind: str) -> Any:
        self.http.request(
            method, path, body, {"Authorization": f"Bearer {token}", "Content-Type": kind}
        )
        response = self.http.getresponse()
        answer = json.loads(response.read())
        assert self.http.sock is not None and self.http.sock.getsockname()[1] == self.local, (
            "the connection was reopened: it may have reached another worker"
        )
        return response.status, answer


def one_per_worker(port: int, pids: list[int]) -> tuple[list[Conn], list[Conn]]:
    """A connection held by each worker (and every connection opened to find them)."""
    found: dict[int, Conn] = {}
    opened: list[Conn] = []
    deadline = time.monotonic() + 30
    while len(found) < len(pids) and len(opened) < 64 and time.monotonic() < deadline:
        conn = Conn(port, pids)
        opened.append(conn)
        if conn.worker is not None:
            found.setdefault(conn.worker, conn)
    assert len(found) == len(pids), f"connections reached only workers {sorted(found)} of {pids}"
    return [found[p] for p in pids], opened


def test_workers_serve_one_log_and_screen_each_others_records(
    settings: Settings, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    hub = Workers(serve_settings(settings), tmp_path / "serve.log")
    opened: list[Conn] = []
    try:
        pids = hub.up()
        assert len(pids) == 2, pids
        assert "workers: 2 processes" in hub.output()
        relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]

        # Many submissions at once over several connections: every one 201, one dense log.
        def send(n: int) -> list[int]:
            with Client(hub.url, relief.id, relief.token, relief.key) as client:
                return [client.submit("site", SITE)["sequence"] for _ in range(15)]

        with ThreadPoolExecutor(8) as pool:
            sequences = [s for batch in pool.map(send, range(8)) for s in batch]
        assert sorted(sequences) == list(range(120))

        (first, second), opened = one_per_worker(hub.port, pids)
        # The second worker has screened (caught up) before the first commits a site there.
        spot = (36.0, 36.5)
        probe = json.dumps(site(*spot)).encode()
        check = "/api/v1/sites/check"
        assert second.send("POST", check, alpha.token, probe, "application/json") == (
            200,
            {"flags": []},
        )
        with Client(hub.url, relief.id, relief.token, relief.key) as client:
            status, made = first.send(
                "POST",
                "/api/v1/submissions",
                relief.token,
                client.sign("site", site(*spot)).encode(),
                "application/jose",
            )
        assert status == 201, made
        status, checked = second.send("POST", check, alpha.token, probe, "application/json")
        assert status == 200 and any(made["id"] in flag for flag in checked["flags"]), checked

        # Two conflicting operations at the same moment, one to each worker: one conflict,
        # raised by whichever was sequenced second, alerted to both parties once.
        with (
            Client(hub.url, alpha.id, alpha.token, alpha.key) as a,
            Client(hub.url, bravo.id, bravo.token, bravo.key) as b,
        ):
            signed = [
                (first, alpha, a.sign("operation", operation(38.5, 35.5, 3000))),
                (second, bravo, b.sign("operation", operation(*east_of(38.5, 35.5, 5000), 2500))),
            ]
        barrier = threading.Barrier(2)

        def submit(job: tuple[Conn, PartyHandle, str]) -> Any:
            conn, party, compact = job
            barrier.wait(timeout=30)
            return conn.send(
                "POST", "/api/v1/submissions", party.token, compact.encode(), "application/jose"
            )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(submit, signed))
        assert [status for status, _ in answers] == [201, 201], answers
        raised = [c for _, answer in answers for c in answer["conflicts"]]
        assert len(raised) == 1 and raised[0]["kind"] == "deconfliction", answers
        for party in (alpha, bravo, parties["charlie"]):
            with Client(hub.url, party.id, party.token, party.key) as client:
                alerts = client.get("/api/v1/alerts")["items"]
            conflict_alerts = [x for x in alerts if x["kind"] == "conflict"]
            expected = 0 if party.id == "charlie" else 1
            assert len(conflict_alerts) == expected, (party.id, alerts)

        # The log the workers built together verifies, entry by entry, against the checkpoint.
        key = httpx.get(f"{hub.url}/log/verifier-key").text.strip()
        verifier = note.Verifier.from_key(key)
        size = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = httpx.get(f"{hub.url}/log/checkpoint").text
            size = cp.verify_checkpoint(text, verifier, verifier.name).size
            if size >= 123:
                break
            time.sleep(0.1)
        assert size >= 123
        assert verify_remote(hub.url, key, None, progress=False)["size"] >= size
    finally:
        for conn in opened:
            conn.http.close()
        hub.stop()
    assert hub.proc.returncode == 0, hub.output()


# Workers and their ending do not depend on the database: SQLite alone (backend "" is SQLite).
@pytest.mark.parametrize("backend", [""], ids=["sqlite"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_worker_outlives_serve(
    settings: Settings, parties: dict[str, PartyHandle], tmp_path: Path, stop: signal.Signals
) -> None:
    hub = Workers(serve_settings(settings), tmp_path / "serve.log")
    started: dict[int, str | None] = {}
    try:
        assert len(hub.up()) == 2
        started = {pid: _start_time(pid) for pid in _children(hub.proc.pid)}
        hub.proc.send_signal(stop)
        hub.proc.wait(timeout=60)
        deadline = time.monotonic() + 30
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
