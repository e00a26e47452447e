"""Several `parley serve` processes on one PostgreSQL: one log, no gap, no duplicate, one tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from parley.client.mirror import verify_remote
from parley.config import Settings
from parley.log import checkpoint as cp
from parley.log import note

from .conftest import PartyHandle, free_port
from .test_log_api import SITE


def _serve(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PARLEY_DATABASE_URL": settings.database_url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--data",
            str(settings.data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def test_concurrent_processes_build_one_log(
    settings: Settings, parties: dict[str, PartyHandle], backend: str
) -> None:
    if not backend:
        pytest.skip("several processes share a log on PostgreSQL; SQLite has one process")
    from parley.client.http import Client

    ports = [free_port(), free_port()]
    procs = [_serve(settings, p) for p in ports]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url in urls:
            _wait(url)
        relief = parties["relief"]

        def send(n: int) -> list[int]:
            with Client(urls[n % 2], relief.id, relief.token, relief.key) as client:
                return [client.submit("site", SITE)["sequence"] for _ in range(25)]

        with ThreadPoolExecutor(8) as pool:
            sequences = [s for batch in pool.map(send, range(8)) for s in batch]
        assert sorted(sequences) == list(range(200))

        key = httpx.get(f"{urls[0]}/log/verifier-key").text.strip()
        verifier = note.Verifier.from_key(key)
        deadline = time.monotonic() + 10
        heads = []
        while time.monotonic() < deadline:
            heads = [
                cp.verify_checkpoint(httpx.get(f"{u}/log/checkpoint").text, verifier, verifier.name)
                for u in urls
            ]
            if all(h.size == 200 for h in heads):
                break
            time.sleep(0.1)
        assert heads[0] == heads[1] and heads[0].size == 200
        for url in urls:
            assert verify_remote(url, key, None, progress=False)["size"] == 200
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
