"""Benchmark parley's OGC API – Features (`/ogc/`) against pygeoapi over the same sites (issue 15).

    .venv/bin/python bench/ogc.py [--sizes 10000,100000] [--seconds 8] [--runs 3] [--connections 2]

For each size N, one run:

1. a fresh parley data directory (SQLite) holding N signed sites, each checked as the hub's
   admission does and stored in batches (what `parley serve` would hold after N submissions),
   then `parley serve` as a subprocess. The sites are spread over Syria's box, valid from a date
   in 2026 for 30-180 days (one in ten open-ended), all shared with every party; the reader is a
   second party, not their author, so every feature passes the audience check;
2. the GeoJSON file pygeoapi serves is parley's own `sites` layer, read whole through `/ogc/`
   (the first request of that read is parley's cold cache: timed and printed), so both servers
   hold the same features;
3. pygeoapi (from PyPI, only in ``bench/.venv-pygeoapi``, made on first use, never a dependency
   of parley) with its GeoJSON provider over that file, on uvicorn with its Starlette app: the
   same server stack as parley, one process each;
4. two queries against each server: ``limit=1000`` pages (offsets spread over the layer) and a
   ``bbox`` + ``datetime`` query with ``limit=1000``. Each is a closed loop of ``--connections``
   keep-alive connections for ``--seconds``, repeated ``--runs`` times; printed are the medians
   of requests per second and of latency, the server's CPU time per request (from /proc), how
   many features each server said it matched, and parley's throughput over pygeoapi's.

The load generator speaks HTTP/1.1 over raw asyncio streams (as bench/log.py does): httpx costs
more CPU per request than a cached page, and would measure itself. Every answer must be 200 with
the number of features asked for, or the run fails.

Goal (issue 15): at 100,000 features, ≥ 10× pygeoapi's throughput with ``datetime`` honoured
(pygeoapi's GeoJSON provider ignores ``datetime``: its matched count shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from medallion_harness import (
    BenchFailure,
    cpu_seconds,
    ensure_venv,
    free_port,
    stop,
    wait_for_quiet,
    wait_until_up,
)

from parley import clock, config
from parley.client.http import document
from parley.hub import setup
from parley.hub.admission import check
from parley.parties import jws
from parley.store.db import NewSubmission, Party, Store

PYGEOAPI_REQUIREMENTS = ["pygeoapi==0.21.0", "starlette", "uvicorn"]
PARLEY = str(Path(sys.executable).with_name("parley"))
LIMIT = 1000
BBOX = "37.0,34.0,39.0,36.0"
WINDOW = "2026-06-01T00:00:00Z/2026-06-30T00:00:00Z"
BATCH = 2000


def sites(n: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(15)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        start = year + timedelta(days=rng.uniform(0, 330))
        end = None if i % 10 == 0 else start + timedelta(days=rng.uniform(30, 180))
        yield {
            "category": rng.choice(["hospital", "school", "shelter", "water"]),
            "name": f"Site {i}",
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(rng.uniform(35.8, 42.0), 6),
                    round(rng.uniform(32.4, 37.2), 6),
                ],
            },
            "radius_m": 100,
            "valid": {"start": clock.iso(start), "end": clock.iso(end) if end else None},
        }


_signer: tuple[Ed25519PrivateKey, Party] | None = None


def _sign_and_check(bodies: list[dict[str, Any]]) -> list[NewSubmission]:
    """In a worker process: sign a batch as the author and check it as admission does, just
    before storing (the clock-skew window is five minutes)."""
    assert _signer is not None
    key, author = _signer
    signed = [jws.sign(document("site", "relief", b), key, "relief") for b in bodies]
    now = clock.now()
    return [check(s, author, lambda _p: True, now, 300).record for s in signed]


def make_hub(root: Path, n: int, workers: int) -> tuple[Path, str]:
    """A data directory holding ``n`` checked, signed sites; the reader's token. Kept in
    ``root`` and reused when a finished one is there already (``--keep``)."""
    global _signer
    data = root / "hub"
    done = root / "reader-token"
    if done.exists():
        print(f"  reusing {data}", file=sys.stderr)
        return data, done.read_text()
    shutil.rmtree(data, ignore_errors=True)
    setup.init(data, None, None)
    settings = config.load(data)
    key = Ed25519PrivateKey.generate()
    setup.add_party(settings, "relief", "Relief", "notifier", key.public_key())
    reader = setup.add_party(
        settings, "reader", "Reader", "notifier", Ed25519PrivateKey.generate().public_key()
    )
    store = Store(settings.database)
    _signer = (key, next(p for p in store.parties() if p.id == "relief"))
    started = time.perf_counter()
    bodies = list(sites(n))
    batches = [bodies[i : i + BATCH] for i in range(0, n, BATCH)]
    stored = 0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for records in pool.imap(_sign_and_check, batches):
            store.append(records)
            stored += len(records)
            print(f"\r  {stored:,}/{n:,} sites stored", end="", file=sys.stderr)
    store.close()
    print(f" in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    done.write_text(reader)
    return data, reader


@contextmanager
def parley_server(data: Path, token: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = data.parent / "parley.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PARLEY, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            f"{url}/ogc/", proc, log, headers={"Authorization": f"Bearer {token}"}, timeout_s=1800
        )
        yield url, proc
    finally:
        stop(proc)


def read_layer(url: str, token: str, path: Path) -> tuple[int, float]:
    """Parley's whole ``sites`` layer into a GeoJSON file; (count, first request's seconds)."""
    found: list[dict[str, Any]] = []
    first = 0.0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
        href: str | None = f"{url}/ogc/collections/sites/items?limit=10000"
        while href:
            started = time.perf_counter()
            page = http.get(href).raise_for_status().json()
            if not found:
                first = time.perf_counter() - started
            found += page["features"]
            href = next((k["href"] for k in page["links"] if k["rel"] == "next"), None)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": found}))
    return len(found), first


@contextmanager
def pygeoapi_server(
    venv: Path, root: Path, data: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    text = {"en": "bench"}
    settings = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "x"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": text,
                "description": text,
                "keywords": {"en": ["bench"]},
                "keywords_type": "theme",
                "terms_of_service": "https://example.org",
                "url": "https://example.org",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://example.org"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {"name": "bench"},
        },
        "resources": {
            "sites": {
                "type": "collection",
                "title": text,
                "description": text,
                "keywords": {"en": ["sites"]},
                "links": [],
                "extents": {
                    "spatial": {"bbox": [-180, -90, 180, 90], "crs": crs84},
                    "temporal": {"begin": None, "end": None},
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "GeoJSON",
                        "data": str(data),
                        "id_field": "id",
                        "time_field": "start",
                    }
                ],
            }
        },
    }
    # JSON is YAML: no YAML writer needed in parley's venv.
    config_file = root / "pygeoapi.yml"
    config_file.write_text(json.dumps(settings))
    openapi = root / "pygeoapi-openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config_file), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [
            str(venv / "bin" / "pygeoapi"),
            "openapi",
            "generate",
            str(config_file),
            "--output-file",
            str(openapi),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    log = root / "pygeoapi.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(venv / "bin" / "uvicorn"),
                "pygeoapi.starlette_app:APP",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    try:
        wait_until_up(f"{url}/collections/sites?f=json", proc, log, timeout_s=120)
        yield url, proc
    finally:
        stop(proc)


# -- load --------------------------------------------------------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, body), Content-Length or
    chunked."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked = None, False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length or 0)
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return status, b"".join(p[:-2] for p in parts)


@dataclass
class Trial:
    per_s: float
    p50_ms: float
    cpu_ms: float
    matched: int | None


async def _load(
    host: str, port: int, requests: list[bytes], seconds: float, connections: int, returned: int
) -> tuple[int, list[float], int | None]:
    latencies: list[float] = []
    matched: int | None = None
    stop_at = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter, matched
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        while time.perf_counter() < stop_at or not latencies:
            request = requests[counter % len(requests)]
            counter += 1
            started = time.perf_counter()
            status, body = await _exchange(reader, writer, request)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise BenchFailure(f"answer {status}: {body[:300]!r}")
            if matched is None:
                page = json.loads(body)
                if len(page["features"]) != returned:
                    raise BenchFailure(f"{len(page['features'])} features, not {returned}")
                matched = page.get("numberMatched")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies), latencies, matched


def trial(
    url: str,
    pid: int,
    targets: list[str],
    token: str,
    seconds: float,
    connections: int,
    returned: int,
) -> Trial:
    host, port = url.removeprefix("http://").split(":")
    requests = [
        f"GET {t} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/geo+json\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
        for t in targets
    ]
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    n, latencies, matched = asyncio.run(
        _load(host, int(port), requests, seconds, connections, returned)
    )
    elapsed = time.perf_counter() - started
    return Trial(
        n / elapsed,
        statistics.median(latencies) * 1e3,
        (cpu_seconds(pid) - cpu) / n * 1e3,
        matched,
    )


def measure(
    url: str, pid: int, prefix: str, n: int, token: str, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    pages = [
        f"{prefix}/collections/sites/items?f=json&limit={LIMIT}&offset={offset}"
        for offset in (rng.randrange(0, n - LIMIT) for _ in range(50))
    ]
    query = [f"{prefix}/collections/sites/items?f=json&limit={LIMIT}&bbox={BBOX}&datetime={WINDOW}"]
    results: dict[str, dict[str, Any]] = {}
    for name, targets, returned in (("pages", pages, LIMIT), ("bbox+datetime", query, None)):
        trials = []
        for _ in range(args.runs):
            wait_for_quiet(timeout_s=10)
            trials.append(
                trial(url, pid, targets, token, args.seconds, args.connections, returned or 0)
                if returned
                else _query_trial(url, pid, targets, token, args)
            )
        results[name] = {
            "per_s": statistics.median(t.per_s for t in trials),
            "p50_ms": statistics.median(t.p50_ms for t in trials),
            "cpu_ms": statistics.median(t.cpu_ms for t in trials),
            "matched": trials[0].matched,
        }
    return results


def _query_trial(
    url: str, pid: int, targets: list[str], token: str, args: argparse.Namespace
) -> Trial:
    """The query's page holds min(limit, matched) features: ask once, then load."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
        page = http.get(f"{url}{targets[0]}").raise_for_status().json()
    return trial(url, pid, targets, token, args.seconds, args.connections, len(page["features"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="processes signing the sites")
    parser.add_argument(
        "--keep", type=Path, help="keep each size's data directory here, and reuse it next time"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    venv = ensure_venv(".venv-pygeoapi", PYGEOAPI_REQUIREMENTS)
    report: dict[str, Any] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        with contextlib.ExitStack() as stack:
            if args.keep:
                root = args.keep / str(n)
                root.mkdir(parents=True, exist_ok=True)
            else:
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-ogc-")))
            print(f"{n:,} sites", file=sys.stderr)
            data, token = make_hub(root, n, args.workers)
            geojson = root / "sites.geojson"
            entry: dict[str, Any] = {}
            with parley_server(data, token) as (url, proc):
                count, cold = read_layer(url, token, geojson)
                if count != n:
                    raise BenchFailure(f"parley served {count} sites of {n}")
                entry["parley_cold_first_page_s"] = cold
                entry["parley"] = measure(url, proc.pid, "/ogc", n, token, args)
            with pygeoapi_server(venv, root, geojson) as (url, proc):
                entry["pygeoapi"] = measure(url, proc.pid, "", n, token, args)
            report[str(n)] = entry
            print_size(n, entry)
    if args.json:
        print(json.dumps(report, indent=2))


def print_size(n: int, entry: dict[str, Any]) -> None:
    print(
        f"\n{n:,} sites (parley's first page, cold cache: "
        f"{entry['parley_cold_first_page_s']:.2f} s)"
    )
    print(
        f"{'query':<15}{'server':<10}{'req/s':>9}{'p50 ms':>9}{'CPU ms/req':>12}"
        f"{'matched':>9}{'ratio':>8}"
    )
    for query in ("pages", "bbox+datetime"):
        base = entry["pygeoapi"][query]["per_s"]
        for server in ("pygeoapi", "parley"):
            r = entry[server][query]
            print(
                f"{query:<15}{server:<10}{r['per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['cpu_ms']:>12.1f}"
                f"{r['matched'] if r['matched'] is not None else '-':>9}{r['per_s'] / base:>7.1f}×"
            )


if __name__ == "__main__":
    main()
