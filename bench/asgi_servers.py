"""ASGI servers compared on the hub's write path: one signed submission per request.

    .venv/bin/python bench/asgi_servers.py [--n 2000] [--runs 3] [--connections 32]

Each server runs the same hub (SQLite, a fresh ``parley init`` data directory per run) in one
process: uvicorn with h11 and asyncio, uvicorn with httptools and uvloop (what ``parley serve``
uses since issue 17's third round), and granian (ASGI interface, one worker; only when installed,
``pip install granian``: it is not a parley dependency). ``--healthz`` sends GET /healthz
instead, to show the server's own cost apart from the hub's. The load comes from
bench/loadgen.py's raw-socket client, closed loop; N submissions are signed before the clock
starts. Reported per run: requests/s, and the server's CPU (its process tree, user + system,
psutil) per request in microseconds. Runs are interleaved (run 1 of every server, then run 2)
and the medians printed with the load average, as the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import loadgen

SERVERS = {
    "uvicorn-h11-asyncio": ("h11", "asyncio"),
    "uvicorn-httptools-uvloop": ("httptools", "uvloop"),
    "granian": ("", ""),
}


def factory() -> Any:
    """The hub's ASGI app for the data directory in PARLEY_BENCH_DATA (granian's target)."""
    from parley.api.app import create_app
    from parley.hub import setup
    from parley.hub.core import Hub

    settings = setup.settings_for(Path(os.environ["PARLEY_BENCH_DATA"]), None)
    return create_app(settings, Hub(settings))


def serve(server: str, data: str, port: int) -> None:
    os.environ["PARLEY_BENCH_DATA"] = data
    if server == "granian":
        from granian import Granian

        Granian(
            "asgi_servers:factory",
            factory=True,
            interface="asgi",  # type: ignore[arg-type]
            port=port,
            workers=1,
            log_level="warning",  # type: ignore[arg-type]
            working_dir=Path(__file__).parent,
        ).serve()
        return
    import uvicorn

    http, loop = SERVERS[server]
    uvicorn.run(
        factory(),
        host="127.0.0.1",
        port=port,
        http=http,  # type: ignore[arg-type]
        loop=loop,  # type: ignore[arg-type]
        log_level="warning",
        access_log=False,
    )


def one_run(server: str, n: int, connections: int, health: bool) -> dict[str, float]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from parley.client.http import Client
    from parley.hub import setup

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        setup.init(data, None, None)
        settings = setup.settings_for(data, None)
        key = Ed25519PrivateKey.generate()
        token = setup.add_party(settings, "relief", "Relief", "notifier", key.public_key())
        port = loadgen_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", server, "--data", str(data), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{server} did not start")
                time.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/jose"}
            with Client(url, "relief", token, key) as client:
                signed = (
                    [loadgen.request("GET", "/healthz")] * (n + 200)
                    if health
                    else [
                        loadgen.request(
                            "POST",
                            "/api/v1/submissions",
                            client.sign("site", _site(i)).encode(),
                            headers,
                        )
                        for i in range(n + 200)
                    ]
                )
            expected = 200 if health else 201
            loadgen.run(signed[:200], [port], connections=connections)  # warm-up
            cpu = loadgen.CPU([proc.pid])
            result = loadgen.run(signed[200:], [port], connections=connections)
            used = cpu.used()
            failures = result.failures(expected)
            if failures:
                raise RuntimeError(f"{server}: {len(failures)} failed, e.g. {failures[0]}")
            return {"per_s": n / result.elapsed_s, "cpu_us": used / n * 1e6}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _site(i: int) -> dict[str, Any]:
    return {
        "category": "school",
        "name": f"School {i}",
        "geometry": {"type": "Point", "coordinates": [36.0 + (i % 100) / 50, 34.0 + i / 5000]},
        "radius_m": 150,
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }


def _installed(server: str) -> bool:
    """Whether this server's modules are installed (they are not parley's dependencies)."""
    import importlib.util

    needed = ["granian"] if server == "granian" else [m for m in SERVERS[server] if m != "h11"]
    missing = [m for m in needed if m != "asyncio" and importlib.util.find_spec(m) is None]
    if missing:
        print(f"{server}: skipped, {', '.join(missing)} not installed (pip install them)")
    return not missing


def loadgen_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument(
        "--healthz",
        action="store_true",
        help="GET /healthz instead of submissions: the server's own cost, not the hub's",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data, args.port)
        return
    servers = [s for s in args.servers.split(",") if _installed(s)]
    found: dict[str, list[dict[str, float]]] = {s: [] for s in servers}
    for run in range(args.runs):
        for server in servers:
            figures = one_run(server, args.n, args.connections, args.healthz)
            found[server].append(figures)
            print(
                f"run {run + 1} {server}: {figures['per_s']:.0f}/s, "
                f"{figures['cpu_us']:.0f} µs server CPU per request "
                f"(load {loadgen.load_average()})",
                flush=True,
            )
    base = statistics.median(f["per_s"] for f in found[servers[0]])
    base_cpu = statistics.median(f["cpu_us"] for f in found[servers[0]])
    for server, runs in found.items():
        per_s = statistics.median(f["per_s"] for f in runs)
        cpu_us = statistics.median(f["cpu_us"] for f in runs)
        print(
            f"median {server}: {per_s:.0f}/s ({per_s / base:.2f}x), {cpu_us:.0f} µs CPU "
            f"per request ({cpu_us / base_cpu:.2f}x)"
        )


if __name__ == "__main__":
    main()
