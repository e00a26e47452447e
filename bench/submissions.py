"""Signed submissions accepted per second over HTTP, against medallion 3.0.0 in the same run.

    .venv/bin/python bench/submissions.py [--n 3000] [--runs 3] [--only KEY ...] [--json]
    .venv/bin/python bench/submissions.py --kill          # kill -9 a server mid-batch (PostgreSQL)
    .venv/bin/python bench/submissions.py --profile       # py-spy on the server at a fixed rate

Every HTTP figure comes from bench/loadgen.py: a raw-socket HTTP/1.1 keep-alive client in several
processes, every request built and signed before the clock starts; its own ceiling (closed loop
against a trivial server answering a fixed 201) is measured and printed in the same run.

Each configuration runs ``--runs`` times, interleaved (run 1 of every configuration, then run
2...) so drift on the machine spreads over all of them. Every run starts from nothing: a fresh
``parley init`` data directory (and an emptied PostgreSQL schema), new ``parley serve``
processes, N documents signed just before timing (client_time must be within the hub's skew),
then N submissions POSTed one per request or in batches, closed loop. A run counts only if every
answer was 201 (every item of a batch) and the hub then lists exactly the N accepted ids with log
sequences 0..N-1 and its log size is N. Server CPU is user + system of every server process and
its children (psutil), over the timed stretch.

Several processes on PostgreSQL are either N separate ``parley serve --workers 1`` on N ports
sharing the database, requests spread over them by the load generator's connections (``-xN``),
or one ``parley serve --workers N`` (``-wN``, when that option exists).

The baseline is medallion 3.0.0 (the OASIS TAXII 2.1 reference server, memory backend) accepting
N STIX 2.1 indicators in envelopes of 100, restarted empty for each run; see medallion_harness.py.

PostgreSQL comes from ``PARLEY_BENCH_POSTGRES_URL``; its ``public`` schema is dropped before
every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import loadgen
import psutil
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from medallion_harness import (
    API_ROOT,
    COLLECTION_ID,
    MEDALLION_REQUIREMENT,
    BenchFailure,
    chunks,
    ensure_venv,
    envelopes,
    free_port,
    log_tail,
    medallion,
    stix_indicators,
    stop,
    wait_until_up,
)
from rich.console import Console
from rich.table import Table

from parley import clock
from parley.client.http import document
from parley.hub import setup
from parley.parties import jws
from parley.store.db import Store

PARTY = "bench-notifier"
POSTGRES_ENV = "PARLEY_BENCH_POSTGRES_URL"
PYSPY_RATE = 250  # samples per second per thread

# Piped output would wrap the table at 80 columns; a terminal keeps its own width.
out = Console() if sys.stdout.isatty() else Console(width=150)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=150)


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    system: str  # "parley" or "medallion"
    batch: int  # items per request
    backend: str  # "sqlite", "postgres" or "memory"
    servers: int = 1  # separate `parley serve` processes, one port each
    workers: int = 1  # `parley serve --workers N` on each port
    baseline: bool = False
    default: bool = True  # run without --only

    @property
    def processes(self) -> int:
        return self.servers * self.workers


def _parley(batch: int, backend: str, servers: int = 1, workers: int = 1) -> Config:
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend]
    key = f"{backend}-{batch}" + (f"-x{servers}" if servers > 1 else "")
    key += f"-w{workers}" if workers > 1 else ""
    label = f"parley · {name} · " + ("1 per request" if batch == 1 else f"batches of {batch}")
    if servers > 1:
        label += f" · {servers} serve processes"
    if workers > 1:
        label += f" · serve --workers {workers}"
    return Config(key, label, "parley", batch, backend, servers, workers)


CONFIGS = [
    Config(
        "medallion-100",
        "medallion 3.0.0 · memory · envelopes of 100",
        "medallion",
        100,
        "memory",
        baseline=True,
    ),
    *(_parley(b, "sqlite") for b in (1, 100, 1000)),
    *(_parley(b, "postgres") for b in (1, 100, 1000)),
    *(_parley(b, "postgres", servers=s) for s in (2, 4) for b in (1, 100)),
]
# Only when `parley serve --help` offers --workers (see main).
WORKER_CONFIGS = [
    *(_parley(b, "sqlite", workers=2) for b in (1, 100)),
    *(_parley(b, "postgres", workers=w) for w in (2, 4) for b in (1, 100)),
]


@dataclass
class Run:
    n: int
    requests: int
    elapsed_s: float
    client_cpu_s: float
    server_cpu_s: float
    prepare_s: float  # signing (parley) or building objects (medallion), before timing
    load_average: str  # /proc/loadavg just before timing

    @property
    def rate(self) -> float:
        return self.n / self.elapsed_s


@dataclass
class Outcome:
    config: Config
    runs: list[Run] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # why each run that did not count failed

    def median(self, value: Callable[[Run], float]) -> float:
        return statistics.median(value(r) for r in self.runs)


# -- parley ------------------------------------------------------------------------------------


def parley_bin() -> str:
    # The project's own entry point, from the venv running this script.
    candidate = Path(sys.prefix) / "bin" / "parley"
    return str(candidate) if candidate.exists() else "parley"


def reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def site_body(i: int, since: str) -> dict[str, Any]:
    """A protected site like the demo's, about a STIX indicator's size, each in its own place."""
    return {
        "category": "hospital",
        "name": f"Benchmark site {i}",
        "geometry": {"type": "Point", "coordinates": [36.0 + i % 1000 / 1000, 35.0 + i / 1e6]},
        "radius_m": 300,
        "valid": {"start": since, "end": None},
    }


def sign_all(key: Ed25519PrivateKey, n: int) -> list[str]:
    since = clock.iso(clock.now())
    return [
        jws.sign(document("site", PARTY, site_body(i, since), "all"), key, PARTY) for i in range(n)
    ]


@dataclass
class ParleyServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def parley_server(
    data: Path, database: str | None, log: Path, workers: int | None
) -> Iterator[ParleyServer]:
    """``parley serve`` on a free port; ``workers`` None: an older serve without --workers."""
    for attempt in range(3):
        port = free_port()
        command = [parley_bin(), "serve", "--data", str(data), "--host", "127.0.0.1"]
        command += ["--port", str(port), *(["--database", database] if database else [])]
        command += ["--workers", str(workers)] if workers is not None else []
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        server = ParleyServer(f"http://127.0.0.1:{port}", port, process, log)
        try:
            wait_until_up(f"{server.url}/healthz", process, log, timeout_s=180)
            # Another benchmark on the machine may have taken the free port first, answered our
            # /healthz, and left ours unable to bind: only a server still running is ours.
            time.sleep(0.2)
            if process.poll() is None:
                break
        except BenchFailure:
            if attempt == 2:
                raise
        stop(process)
    else:
        raise BenchFailure(f"parley serve would not stay up:\n{log_tail(log)}")
    try:
        yield server
    finally:
        stop(process, timeout_s=30)


def parley_requests(token: str, compacts: list[str], batch: int) -> list[bytes]:
    auth = f"Bearer {token}"
    if batch == 1:
        headers = {"Authorization": auth, "Content-Type": "application/jose"}
        return [
            loadgen.request("POST", "/api/v1/submissions", c.encode("ascii"), headers)
            for c in compacts
        ]
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    return [
        loadgen.request(
            "POST",
            "/api/v1/submissions/batch",
            json.dumps({"submissions": list(chunk)}).encode(),
            headers,
        )
        for chunk in chunks(compacts, batch)
    ]


def accepted_ids(result: loadgen.Result, batch: int) -> tuple[list[str], list[str]]:
    """(ids answered 201, descriptions of everything else)."""
    failures = result.failures(201 if batch == 1 else 200)
    ids: list[str] = []
    for status, body in zip(result.statuses, result.bodies, strict=True):
        if batch == 1 and status == 201:
            ids.append(json.loads(body)["id"])
        elif batch > 1 and status == 200:
            for item in json.loads(body)["results"]:
                if item.get("status") == 201:
                    ids.append(item["id"])
                else:
                    failures.append(f"batch item refused: {json.dumps(item)[:300]}")
    return ids, failures


def warm_up(servers: Sequence[ParleyServer], token: str, connections: int) -> None:
    """Every process looks the token up once, then serves it from memory: do that now, outside
    the timing, as a long-running hub would have, over as many connections as the run uses
    (with --workers, each connection may land on another process)."""
    get = loadgen.request("GET", "/api/v1/parties/me", b"", {"Authorization": f"Bearer {token}"})
    result = loadgen.run(
        [get] * (connections * 4),
        [s.port for s in servers],
        connections=connections,
        processes=1,
    )
    if result.failures(200):
        raise BenchFailure(f"warm-up: {result.failures(200)[:3]}")


def start_hub(
    config: Config, postgres: str | None, tmp: Path, stack: ExitStack, has_workers: bool
) -> tuple[list[ParleyServer], str, Ed25519PrivateKey, str]:
    """A fresh hub (data directory, emptied schema) and its serve processes, started."""
    database = postgres if config.backend == "postgres" else None
    data = tmp / "data"
    if database:
        reset_postgres(database)
    init = [parley_bin(), "init", "--data", str(data), "--json"]
    done = subprocess.run(
        init + (["--database", database] if database else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchFailure(f"parley init failed:\n{done.stdout}{done.stderr}")
    settings = setup.settings_for(data, database)
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(settings, PARTY, "Benchmark notifier", "notifier", key.public_key())
    servers = [
        stack.enter_context(
            parley_server(
                data,
                database,
                tmp / f"serve-{i}.log",
                config.workers if has_workers else None,
            )
        )
        for i in range(config.servers)
    ]
    return servers, token, key, settings.database


def server_pids(servers: Sequence[ParleyServer]) -> list[int]:
    return [s.process.pid for s in servers]


def run_parley(
    config: Config,
    n: int,
    args: argparse.Namespace,
    postgres: str | None,
    workdir: Path,
    has_workers: bool,
) -> Run:
    with (
        tempfile.TemporaryDirectory(dir=workdir, prefix=f"{config.key}-") as tmp,
        ExitStack() as stack,
    ):
        servers, token, key, store_url = start_hub(config, postgres, Path(tmp), stack, has_workers)
        warm_up(servers, token, args.connections)
        loadgen.settle(server_pids(servers))
        started = time.perf_counter()
        compacts = sign_all(key, n)
        requests = parley_requests(token, compacts, config.batch)
        prepare = time.perf_counter() - started
        load = loadgen.load_average()
        cpu = loadgen.CPU(server_pids(servers))
        result = loadgen.run(
            requests,
            [s.port for s in servers],
            connections=args.connections,
            processes=args.client_processes,
        )
        server_cpu = cpu.used()
        ids, failures = accepted_ids(result, config.batch)
        if failures:
            raise BenchFailure(f"{len(failures)} failed: " + "\n".join(failures[:5]))
        verify_parley(servers[0], token, store_url, ids, n)
    return Run(n, len(requests), result.elapsed_s, result.client_cpu_s, server_cpu, prepare, load)


# -- medallion ---------------------------------------------------------------------------------


def run_medallion(config: Config, n: int, args: argparse.Namespace, venv: Path) -> Run:
    with medallion(venv, max_page_size=max(n, 100)) as server:
        started = time.perf_counter()
        objects = stix_indicators(n)
        path = f"/{API_ROOT}/collections/{COLLECTION_ID}/objects/"
        requests = [
            loadgen.request("POST", path, body, server.headers)
            for body in envelopes(objects, config.batch)
        ]
        prepare = time.perf_counter() - started
        port = int(server.url.rsplit(":", 1)[1])
        load = loadgen.load_average()
        cpu = loadgen.CPU([server.process.pid])
        result = loadgen.run(
            requests, [port], connections=args.connections, processes=args.client_processes
        )
        server_cpu = cpu.used()
        failures = result.failures(202)
        added = 0
        for status, body in zip(result.statuses, result.bodies, strict=True):
            if status == 202:
                answer = json.loads(body)
                added += answer["success_count"]
                if answer["failure_count"]:
                    failures.append(f"status resource with failures: {body[:300]!r}")
        if failures:
            raise BenchFailure(f"medallion: {len(failures)} failed: " + "\n".join(failures[:5]))
        stored = server.stored_ids()
        if added != n or len(stored) != n or set(stored) != {o["id"] for o in objects}:
            raise BenchFailure(
                f"medallion reported {added} added and lists {len(stored)} "
                f"objects, not the {n} sent"
            )
    return Run(n, len(requests), result.elapsed_s, result.client_cpu_s, server_cpu, prepare, load)


# -- kill mid-batch ----------------------------------------------------------------------------


def listed(server: ParleyServer, token: str) -> tuple[list[str], list[int]]:
    """Every submission the hub lists, in log order: (ids, sequences)."""
    ids: list[str] = []
    sequences: list[int] = []
    cursor = -1
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=120.0,
    ) as client:
        while True:
            response = client.get("/api/v1/submissions", params={"cursor": cursor, "limit": 1000})
            if response.status_code != 200:
                raise BenchFailure(f"listing: HTTP {response.status_code} {response.text[:300]}")
            page = response.json()
            ids += [item["id"] for item in page["items"]]
            sequences += [item["sequence"] for item in page["items"]]
            if page["next"] is None:
                return ids, sequences
            cursor = page["next"]


def kill_run(
    args: argparse.Namespace, postgres: str, workdir: Path, has_workers: bool
) -> dict[str, Any]:
    """Batches over ``--kill-servers`` serve processes; one is killed (SIGKILL) a third of the
    way through while the load goes on against the others; then the log is checked."""
    config = _parley(args.kill_batch, "postgres", servers=args.kill_servers)
    with (
        tempfile.TemporaryDirectory(dir=workdir, prefix="kill-") as tmp,
        ExitStack() as stack,
    ):
        servers, token, key, store_url = start_hub(config, postgres, Path(tmp), stack, has_workers)
        warm_up(servers, token, args.connections)
        loadgen.settle(server_pids(servers))
        requests = parley_requests(token, sign_all(key, args.n), config.batch)
        victim = servers[0].process
        killed: dict[str, Any] = {}

        def kill_when(answered: int) -> None:
            if not killed and answered >= len(requests) // 3:
                # The process and everything under it (with --workers, its workers), listed
                # first: once the parent is dead its children are init's.
                for process in loadgen.tree([victim.pid]):
                    with suppress(psutil.NoSuchProcess):
                        process.kill()
                killed.update(pid=victim.pid, after_answers=answered)

        load = loadgen.load_average()
        result = loadgen.run(
            requests,
            [s.port for s in servers],
            connections=args.connections,
            processes=args.client_processes,
            on_progress=kill_when,
        )
        victim.wait()
        survivor = servers[1]
        ids, failures = accepted_ids(result, config.batch)
        listed_ids, sequences = listed(survivor, token)
        store = Store(store_url)
        try:
            log_size = store.log_size()
        finally:
            store.close()
        counts = Counter(listed_ids)
        log_key = httpx.get(f"{survivor.url}/log/verifier-key", trust_env=False).text.strip()
        verify = subprocess.run(
            [parley_bin(), "verify", "log", survivor.url, "--log-key", log_key, "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        checks = {
            "no gap (sequences 0..size-1)": sequences == list(range(len(sequences))),
            "no duplicate id": all(c == 1 for c in counts.values()),
            "every id answered 201 is listed exactly once": all(counts[i] == 1 for i in ids),
            "log size == listed submissions": log_size == len(listed_ids),
            "parley verify log passes": verify.returncode == 0,
        }
        return {
            "config": config.label,
            "n": args.n,
            "requests": len(requests),
            "killed": killed,
            "answered_201": len(ids),
            "requests_without_answer": sum(1 for s in result.statuses if s == 0),
            "other_failures": [f for f in failures if not f.startswith("request ")][:5],
            "listed": len(listed_ids),
            "log_size": log_size,
            "listed_not_answered": len(set(listed_ids) - set(ids)),
            "verify_log": (verify.stdout or verify.stderr).strip()[-400:],
            "checks": checks,
            "passed": all(checks.values()),
            "load_average": load,
        }


def print_kill(found: dict[str, Any], console: Console) -> None:
    console.print(
        f"\n[bold]Kill mid-batch[/] ({found['config']}, N={found['n']:,} in {found['requests']} "
        f"requests; load average {found['load_average']}): process {found['killed'].get('pid')} "
        f"killed with SIGKILL after {found['killed'].get('after_answers')} answers; "
        f"{found['answered_201']:,} items answered 201, {found['requests_without_answer']} "
        f"requests without an answer; the log lists {found['listed']:,} (size "
        f"{found['log_size']:,}), {found['listed_not_answered']} of them never answered."
    )
    for name, ok in found["checks"].items():
        console.print(f"  {'[green]pass[/]' if ok else '[red]FAIL[/]'} {name}")
    if found["other_failures"]:
        console.print(f"  other failures: {found['other_failures']}")
    if not found["checks"]["parley verify log passes"]:
        console.print(f"  verify log: {found['verify_log']}")


# -- profile -----------------------------------------------------------------------------------


def pyspy_bin() -> Path:
    spy = Path(sys.prefix) / "bin" / "py-spy"
    if not spy.exists():
        raise BenchFailure(
            "py-spy is not installed: .venv/bin/pip install py-spy (for measuring only)"
        )
    return spy


@contextmanager
def pyspy(pid: int, output: Path) -> Iterator[None]:
    """Sample ``pid`` and its subprocesses (all threads) with py-spy while the block runs."""
    log = output.with_suffix(".log")
    command = [
        str(pyspy_bin()),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--rate",
        str(PYSPY_RATE),
        "--format",
        "raw",
        "--nolineno",
        # Read the stacks without pausing the server, so sampling barely slows what it measures.
        "--nonblocking",
        "--output",
        str(output),
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    # Time only once py-spy has attached, or the first requests go unsampled.
    while "Sampling process" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise BenchFailure(f"py-spy did not start sampling:\n{log_tail(log)}")
        time.sleep(0.05)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    if not output.exists():
        raise BenchFailure(f"py-spy wrote no profile:\n{log_tail(log)}")


def profile_run(
    config: Config,
    args: argparse.Namespace,
    postgres: str | None,
    workdir: Path,
    has_workers: bool,
    raw: Path,
) -> Run:
    """Open loop at ``--profile-rate`` items/s for ``--profile-seconds``, under py-spy."""
    n = int(args.profile_rate * args.profile_seconds)
    with (
        tempfile.TemporaryDirectory(dir=workdir, prefix=f"profile-{config.key}-") as tmp,
        ExitStack() as stack,
    ):
        servers, token, key, store_url = start_hub(config, postgres, Path(tmp), stack, has_workers)
        warm_up(servers, token, args.connections)
        loadgen.settle(server_pids(servers))
        requests = parley_requests(token, sign_all(key, n), config.batch)
        load = loadgen.load_average()
        cpu = loadgen.CPU(server_pids(servers))
        with pyspy(servers[0].process.pid, raw):
            result = loadgen.run(
                requests,
                [s.port for s in servers],
                connections=args.connections,
                processes=args.client_processes,
                rate=args.profile_rate / config.batch,
            )
        server_cpu = cpu.used()
        ids, failures = accepted_ids(result, config.batch)
        if failures:
            raise BenchFailure(f"profile run: {len(failures)} failed: {failures[:3]}")
        verify_parley(servers[0], token, store_url, ids, n)
    return Run(n, len(requests), result.elapsed_s, result.client_cpu_s, server_cpu, 0.0, load)


def verify_parley(
    server: ParleyServer, token: str, store_url: str, accepted: list[str], n: int
) -> None:
    """The hub must list exactly the accepted ids, in log order 0..n-1, and its log hold n."""
    ids, sequences = listed(server, token)
    store = Store(store_url)
    try:
        log_size = store.log_size()
    finally:
        store.close()
    problems = []
    if len(accepted) != n:
        problems.append(f"{len(accepted)} accepted answers for {n} sent")
    if len(ids) != n or set(ids) != set(accepted):
        problems.append(
            f"the hub lists {len(ids)} submissions ({len(set(ids))} distinct ids), "
            f"{len(set(ids) & set(accepted))} of them among the {n} accepted"
        )
    if sequences != list(range(n)):
        problems.append("log sequences are not 0..n-1 in order")
    if log_size != n:
        problems.append(f"log size is {log_size}, not {n}")
    if problems:
        raise BenchFailure("stored data does not match what was sent: " + "; ".join(problems))


def _any(*needles: str) -> Callable[[list[str]], bool]:
    return lambda frames: any(n in f for f in frames for n in needles)


def _starts(*prefixes: str) -> Callable[[list[str]], bool]:
    return lambda frames: any(f.startswith(prefixes) for f in frames)


# Each sample goes to the first category its stack matches, so the order matters: canonical JSON
# under the JWS parser counts as canonicalisation, SQL run by the submission rules (on the event
# loop, before the writer) apart from the rules' own geometry work, and what Hub.submit does
# outside the checks (queueing for the writer, waking waiters) as the hand-off.
CATEGORIES: list[tuple[str, Callable[[list[str]], bool]]] = [
    ("writer thread: SQL inserts + commit", _starts("Writer._run (")),
    ("token auth (sync dependency, threadpool)", _any("parley/api/auth.py")),
    ("RFC 8785 canonical JSON (payload check, log entry)", _any("rfc8785/")),
    ("Ed25519: load key + verify", _starts("Parsed.verify (", "public_key_from_raw (")),
    (
        "submission rules: SQL on the event loop (screening catch-up)",
        lambda f: _any("parley/hub/rules.py")(f) and _any("sqlalchemy/")(f),
    ),
    (
        "submission rules: geometry, duplicate search, screening",
        _any("parley/hub/rules.py", "parley/geo/", "parley/hub/deconfliction.py"),
    ),
    ("other checks: JWS parse, clock, ids, log entry", _starts("check (parley/")),
    ("hub: hand-off to the writer, wake-ups (futures)", _starts("Hub.submit (", "Hub._submit (")),
    # Only the route's own module: the body-limit middleware (parley/api/limits.py) wraps every
    # request, so matching all of parley.api would swallow the framework's time.
    ("handler: read body, build answer", _any("parley/api/submissions.py")),
    ("FastAPI, Starlette, pydantic, anyio", _any("fastapi/", "starlette/", "pydantic", "anyio/")),
    ("uvicorn / h11 (HTTP parsing, transport)", _any("uvicorn/", "h11/", "httptools/")),
    ("asyncio event loop, sockets", _any("asyncio/", "selectors.py")),
]


# py-spy's own idle detection misses threads parked on a lock (the writer and the threadpool
# waiting for work) and the event loop in epoll: samples ending in these are waiting, not working.
WAITING = (
    "Condition.wait (",
    "Event.wait (",
    "_wait_for_tstate_lock (",
    "EpollSelector.select (",
    "_worker (concurrent/futures/thread.py",
)


# Frames every sample of a thread passes through (process root, thread and event-loop
# bootstrap, the CLI and server start-up): left out of the total-time ranking, which would
# otherwise be nothing but them.
OUTER = (
    "process ",
    "threading.py",
    "click/",
    "<module> (",
    "asyncio/base_events.py",
    "asyncio/runners.py",
    "asyncio/events.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "parley/cli/",
    "parley/api/serve.py",
    "parley/api/workers.py",
    "concurrent/futures/thread.py",
)


def short(frame: str) -> str:
    """``func (/long/site-packages/pkg/mod.py)`` -> ``func (pkg/mod.py)``."""
    name, _, path = frame.partition(" (")
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path}"


def analyse_profile(raw: Path, run: Run) -> dict[str, Any]:
    """Shares of py-spy samples; µs are those shares of the server CPU measured in the same run.

    Sampled thread time over-counts CPU (a thread blocked in I/O still looks busy), so the
    absolute numbers come from /proc and only the split comes from the samples.
    """
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            stacks.append(([short(f) for f in stack.split(";")], int(samples)))
    waiting = sum(c for frames, c in stacks if frames[-1].startswith(WAITING))
    stacks = [(frames, c) for frames, c in stacks if not frames[-1].startswith(WAITING)]
    total = sum(c for _, c in stacks)
    if total == 0:
        raise BenchFailure(f"py-spy recorded no working samples in {raw}")
    cpu_us = run.server_cpu_s / run.n * 1e6
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            # Total time of parley's own functions: the framework's wrappers around every
            # request would fill the ranking otherwise (their share is in the categories).
            if "(parley/" in frame and not any(outer in frame for outer in OUTER):
                inclusive[frame] += count
        label = next((name for name, match in CATEGORIES if match(frames)), "other")
        categories[label] += count

    def rows(counter: Counter[str], limit: int) -> list[dict[str, Any]]:
        return [
            {"name": k, "share": v / total, "cpu_us_per_submission": v / total * cpu_us}
            for k, v in counter.most_common(limit)
        ]

    return {
        "samples": total,
        "waiting_samples_left_out": waiting,
        "rate_hz": PYSPY_RATE,
        "sampled_us_per_submission": total / PYSPY_RATE / run.n * 1e6,
        "server_cpu_us_per_submission": cpu_us,
        "categories": rows(categories, len(CATEGORIES) + 1),
        "self": rows(own, 15),
        "inclusive": rows(inclusive, 15),
    }


def print_profile(title: str, run: Run, profile: dict[str, Any], console: Console) -> None:
    console.print(
        f"\n[bold]Where the time goes: {title}[/] (py-spy, {profile['samples']} samples of "
        f"working threads at {profile['rate_hz']} Hz, {profile['waiting_samples_left_out']} of "
        f"waiting ones left out; {run.rate:,.0f}/s while sampled; server "
        f"CPU {run.server_cpu_s / run.n * 1e6:,.0f} µs and sampled thread time "
        f"{profile['sampled_us_per_submission']:,.0f} µs per submission)"
    )
    for heading, key in (
        ("category", "categories"),
        ("function (own time)", "self"),
        ("parley function (total time: itself and what it calls)", "inclusive"),
    ):
        table = Table(heading, "share of samples", "≈ server CPU µs / submission")
        for row in profile[key]:
            table.add_row(
                row["name"], f"{row['share']:.1%}", f"{row['cpu_us_per_submission']:,.0f}"
            )
        console.print(table)


def machine_notes(postgres: str | None, medallion_venv: Path | None) -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    notes: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "parley": metadata.version("parley"),
        "httpx": metadata.version("httpx"),
        "uvicorn": metadata.version("uvicorn"),
    }
    if medallion_venv is not None:
        versions = subprocess.run(
            [
                str(medallion_venv / "bin" / "python"),
                "-c",
                "from importlib.metadata import version as v; "
                "print(v('medallion'), v('flask'), v('werkzeug'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        notes["medallion"] = dict(zip(("medallion", "flask", "werkzeug"), versions, strict=True))
    if postgres:
        with psycopg.connect(postgres) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'), "
                "current_setting('synchronous_commit')"
            ).fetchone()
        assert row is not None
        notes["postgres"] = {"version": row[0], "fsync": row[1], "synchronous_commit": row[2]}
    return notes


# -- report ------------------------------------------------------------------------------------


def source_commit() -> str:
    """The commit of the parley being measured, and whether its source differs from it.

    Run from a snapshot (``git archive`` into DIR, then PYTHONPATH=DIR/src) to measure a
    commit while others change the working tree; PARLEY_BENCH_COMMIT names it then."""
    import parley

    if os.environ.get("PARLEY_BENCH_COMMIT"):
        return f"{os.environ['PARLEY_BENCH_COMMIT']} (snapshot {Path(parley.__file__).parent})"
    src = Path(parley.__file__).resolve().parent

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], capture_output=True, text=True, check=False, cwd=src)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return commit + (" + uncommitted changes in src/" if git("status", "--porcelain", ".") else "")


def results_table(outcomes: list[Outcome], n: int, runs: int) -> Table:
    base_rate = baseline_rate(outcomes)
    table = Table(
        title=f"Signed submissions accepted per second over HTTP (N={n:,}, median of {runs})"
    )
    table.add_column("configuration", no_wrap=True)
    for heading in ("items/req", "runs counted", "median /s", "min–max /s", "× medallion"):
        table.add_column(heading, justify="right")
    for heading in ("server CPU µs/item", "client CPU (cores)", "load average (1 min)"):
        table.add_column(heading, justify="right")
    for o in outcomes:
        if not o.runs:
            continue
        rates = [r.rate for r in o.runs]
        median = statistics.median(rates)
        if o.config.baseline:
            ratio = "1.00 (baseline)"
        else:
            ratio = f"{median / base_rate:.2f}" if base_rate else "–"
        loads = [float(r.load_average.split()[0]) for r in o.runs]
        table.add_row(
            o.config.label,
            str(o.config.batch),
            f"{len(o.runs)}/{len(o.runs) + len(o.failed)}",
            f"{median:,.0f}",
            f"{min(rates):,.0f}–{max(rates):,.0f}",
            ratio,
            f"{o.median(lambda r: r.server_cpu_s / r.n * 1e6):,.0f}",
            f"{o.median(lambda r: r.client_cpu_s / r.elapsed_s):.2f}",
            f"{min(loads):.1f}–{max(loads):.1f}",
        )
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=3000, help="submissions per run (default 3000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (default 3)")
    parser.add_argument(
        "--connections", type=int, default=32, help="requests in flight at once (default 32)"
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="load-generator processes (default 2)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N=300, 1 run (overrides --n, --runs)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY",
        help="run only these configurations (repeatable): "
        + ", ".join(c.key for c in CONFIGS + WORKER_CONFIGS),
    )
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the throughput table (e.g. --kill only)"
    )
    parser.add_argument(
        "--kill",
        action="store_true",
        help="PostgreSQL: kill -9 one serve process a third of the way through a run of "
        "batches, keep the load on the others, then check the log is dense and verifies",
    )
    parser.add_argument("--kill-servers", type=int, default=3, help="serve processes (default 3)")
    parser.add_argument("--kill-batch", type=int, default=50, help="items per batch (default 50)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile a parley server with py-spy at a fixed rate and print where the time goes",
    )
    parser.add_argument(
        "--profile-config",
        action="append",
        default=[],
        metavar="KEY",
        help="configuration(s) to profile (repeatable; default sqlite-1)",
    )
    parser.add_argument(
        "--profile-rate", type=float, default=150.0, help="items/s offered while profiling"
    )
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="keep py-spy's raw (collapsed-stack) profiles here, e.g. for a flame graph",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as JSON on stdout (the tables go to stderr)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.runs = 300, 1
    if min(args.n, args.runs, args.connections, args.client_processes) < 1:
        parser.error("--n, --runs, --connections and --client-processes must be positive")
    args.profile_config = args.profile_config or ["sqlite-1"]
    keys = {c.key for c in CONFIGS + WORKER_CONFIGS}
    if set(args.profile_config) - keys or set(args.only) - keys:
        parser.error(f"unknown configuration; known: {sorted(keys)}")
    if args.profile_dir is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    return args


def measure(
    args: argparse.Namespace,
    configs: list[Config],
    postgres: str | None,
    medallion_venv: Path | None,
    workdir: Path,
    has_workers: bool,
) -> list[Outcome]:
    outcomes = [Outcome(c) for c in configs]
    for run in range(1, args.runs + 1):
        for o in outcomes:
            c = o.config
            try:
                if c.system == "medallion":
                    assert medallion_venv is not None
                    result = run_medallion(c, args.n, args, medallion_venv)
                else:
                    result = run_parley(c, args.n, args, postgres, workdir, has_workers)
            except BenchFailure as exc:
                # The run does not count; the others go on, and the table says how many did.
                o.failed.append(str(exc)[:2000])
                err.print(f"[red]run {run}/{args.runs} {c.label} failed:[/] {str(exc)[:1500]}")
                continue
            o.runs.append(result)
            err.print(
                f"[dim]run {run}/{args.runs}[/] {c.label}: [bold]{result.rate:,.0f}/s[/] "
                f"({result.requests} requests in {result.elapsed_s:.2f} s, server CPU "
                f"{result.server_cpu_s / result.n * 1e6:,.0f} µs/item, client "
                f"{result.client_cpu_s / result.elapsed_s:.2f} cores, load average "
                f"{result.load_average})"
            )
    return outcomes


def baseline_rate(outcomes: list[Outcome]) -> float | None:
    baseline = next((o for o in outcomes if o.config.baseline and o.runs), None)
    return baseline.median(lambda r: r.rate) if baseline else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    postgres = os.environ.get(POSTGRES_ENV) or None
    has_workers = loadgen.serve_has_workers(parley_bin())
    every = CONFIGS + (WORKER_CONFIGS if has_workers else [])
    configs = [c for c in every if c.key in args.only or (not args.only and c.default)]
    if args.no_throughput:
        configs = []
    skipped: list[str] = []
    if postgres is None and any(c.backend == "postgres" for c in configs):
        skipped = [c.key for c in configs if c.backend == "postgres"]
        err.print(f"[yellow]PostgreSQL skipped:[/] set {POSTGRES_ENV}")
        configs = [c for c in configs if c.backend != "postgres"]
    console = err if args.json else out
    report: dict[str, Any] = {"n": args.n, "runs": args.runs, "skipped": skipped}
    try:
        medallion_venv = (
            ensure_venv(".venv-medallion", [MEDALLION_REQUIREMENT])
            if any(c.system == "medallion" for c in configs)
            else None
        )
        notes = machine_notes(postgres, medallion_venv)
        notes["serve_workers_option"] = has_workers
        notes["commit"] = source_commit()
        report["machine"] = notes
        ceiling = loadgen.ceiling(2.0, args.client_processes, args.connections)
        report["loadgen_ceiling"] = ceiling
        console.print(
            f"load generator ceiling (closed loop against a trivial 201 server, "
            f"{args.client_processes} processes, {args.connections} connections): "
            f"{ceiling['per_s']:,.0f} requests/s; load average {loadgen.load_average()}; "
            f"commit {notes['commit']}"
        )
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as workdir:
            outcomes = measure(args, configs, postgres, medallion_venv, Path(workdir), has_workers)
            if outcomes:
                console.print(results_table(outcomes, args.n, args.runs))
            base = baseline_rate(outcomes)
            report["results"] = [
                {
                    **asdict(o.config),
                    "median_per_s": o.median(lambda r: r.rate),
                    "min_per_s": min(r.rate for r in o.runs),
                    "max_per_s": max(r.rate for r in o.runs),
                    "ratio_to_medallion": o.median(lambda r: r.rate) / base if base else None,
                    "server_cpu_us_per_item": o.median(lambda r: r.server_cpu_s / r.n * 1e6),
                    "runs": [{**asdict(r), "rate": r.rate} for r in o.runs],
                }
                for o in outcomes
                if o.runs
            ]
            report["failed_runs"] = {o.config.key: o.failed for o in outcomes if o.failed}
            if args.kill:
                if postgres is None:
                    raise BenchFailure(f"--kill needs PostgreSQL: set {POSTGRES_ENV}")
                report["kill"] = kill_run(args, postgres, Path(workdir), has_workers)
                print_kill(report["kill"], console)
            if args.profile:
                report["profile"] = {}
                for key in args.profile_config:
                    c = next(c for c in every if c.key == key)
                    if c.backend == "postgres" and postgres is None:
                        continue
                    raw = (args.profile_dir or Path(workdir)) / f"{key}.pyspy.txt"
                    result = profile_run(c, args, postgres, Path(workdir), has_workers, raw)
                    profile = analyse_profile(raw, result)
                    report["profile"][key] = {"run": asdict(result), **profile}
                    print_profile(c.label, result, profile, console)
    except BenchFailure as exc:
        err.print(f"[red]benchmark failed:[/] {exc}")
        return 1
    console.print(
        f"machine: {notes['cpu']}, {notes['cores']} cores, Python {notes['python']}, SQLite "
        f"{notes['sqlite']}"
        + (
            f", PostgreSQL {notes['postgres']['version']} (fsync={notes['postgres']['fsync']}, "
            f"synchronous_commit={notes['postgres']['synchronous_commit']}) on the same machine"
            if "postgres" in notes
            else ""
        )
        + f"; load: bench/loadgen.py, {args.client_processes} processes, {args.connections} "
        "connections in flight; server(s), database and client share the cores."
    )
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 0 if report.get("kill", {}).get("passed", True) else 2


if __name__ == "__main__":
    sys.exit(main())
