"""Signed submissions accepted per second over HTTP, against medallion 3.0.0 in the same run.

    .venv/bin/python bench/submissions.py [--n 3000] [--runs 5] [--quick] [--json] [--profile]

Each configuration runs ``--runs`` times, interleaved (run 1 of every configuration, then run 2...)
so drift on the machine spreads over all of them. Every run starts from nothing: a fresh
``parley init`` data directory (and an emptied PostgreSQL schema), new ``parley serve``
subprocesses, N documents signed just before timing (client_time must be within the hub's skew),
then N submissions POSTed one per request or in batches. A run counts only if every request
succeeded and the hub then lists exactly the N accepted ids with log sequences 0..N-1.

The baseline is medallion 3.0.0 (the OASIS TAXII 2.1 reference server, memory backend) accepting
N STIX 2.1 indicators in envelopes of 100, restarted empty for each run; see medallion_harness.py.

PostgreSQL comes from ``PARLEY_BENCH_POSTGRES_URL``; its ``public`` schema is dropped before
every run. ``--profile`` then runs the hub once more per ``--profile-config`` (default: SQLite, one
per request and batches of 100) under ``py-spy record`` (installed in ``bench/.venv-pyspy``) and
prints where the server's time goes.
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
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from medallion_harness import (
    MEDALLION_REQUIREMENT,
    BenchFailure,
    Fired,
    Post,
    chunks,
    ensure_venv,
    envelopes,
    fire,
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
PYSPY_REQUIREMENT = "py-spy"
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
    servers: int = 1
    baseline: bool = False
    default: bool = True  # run without --only


CONFIGS = [
    Config(
        "medallion-100",
        "medallion 3.0.0 · memory · envelopes of 100",
        "medallion",
        100,
        "memory",
        baseline=True,
    ),
    # Opt-in (--only medallion-1): medallion deep-copies every stored object on each request's
    # permission checks, so one object per request is quadratic in N (minutes at N=3000).
    Config(
        "medallion-1",
        "medallion 3.0.0 · memory · 1 object per request",
        "medallion",
        1,
        "memory",
        default=False,
    ),
    Config("sqlite-1", "parley · SQLite · 1 per request", "parley", 1, "sqlite"),
    Config("sqlite-100", "parley · SQLite · batches of 100", "parley", 100, "sqlite"),
    Config("sqlite-1000", "parley · SQLite · batches of 1000", "parley", 1000, "sqlite"),
    Config("postgres-1", "parley · PostgreSQL · 1 per request", "parley", 1, "postgres"),
    Config("postgres-100", "parley · PostgreSQL · batches of 100", "parley", 100, "postgres"),
    Config("postgres-1000", "parley · PostgreSQL · batches of 1000", "parley", 1000, "postgres"),
    Config(
        "postgres-1-x2",
        "parley · PostgreSQL · 1 per request · 2 processes",
        "parley",
        1,
        "postgres",
        servers=2,
    ),
    Config(
        "postgres-100-x2",
        "parley · PostgreSQL · batches of 100 · 2 processes",
        "parley",
        100,
        "postgres",
        servers=2,
    ),
]


@dataclass
class Run:
    n: int
    requests: int
    elapsed_s: float
    client_cpu_s: float
    server_cpu_s: float
    machine_busy: float
    prepare_s: float  # signing (parley) or building objects (medallion), before timing
    background: float  # machine busy share just before timing (other users, see wait_for_quiet)

    @classmethod
    def of(cls, fired: Fired, n: int, requests: int, prepare_s: float) -> Run:
        return cls(
            n,
            requests,
            fired.elapsed_s,
            fired.client_cpu_s,
            fired.server_cpu_s,
            fired.machine_busy,
            prepare_s,
            fired.background,
        )

    @property
    def rate(self) -> float:
        return self.n / self.elapsed_s

    @property
    def other_cores(self) -> float:
        """Cores busy outside client and hub while timing: PostgreSQL, or someone else's work."""
        cores = os.cpu_count() or 1
        return max(
            0.0,
            self.machine_busy * cores - (self.client_cpu_s + self.server_cpu_s) / self.elapsed_s,
        )


@dataclass
class Outcome:
    config: Config
    runs: list[Run] = field(default_factory=list)

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
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def parley_server(data: Path, database: str | None, log: Path) -> Iterator[ParleyServer]:
    for attempt in range(3):
        port = free_port()
        command = [parley_bin(), "serve", "--data", str(data), "--host", "127.0.0.1"]
        command += ["--port", str(port), *(["--database", database] if database else [])]
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        server = ParleyServer(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_until_up(f"{server.url}/healthz", process, log)
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
        stop(process)


def parley_posts(
    servers: Sequence[ParleyServer], token: str, compacts: list[str], batch: int
) -> list[Post]:
    auth = f"Bearer {token}"
    posts = []
    for i, chunk in enumerate(chunks(compacts, batch)):
        # Requests alternate between the processes, as a round-robin load balancer would.
        url = servers[i % len(servers)].url
        if batch == 1:
            posts.append(
                Post(
                    f"{url}/api/v1/submissions",
                    chunk[0].encode("ascii"),
                    {"Authorization": auth, "Content-Type": "application/jose"},
                )
            )
        else:
            body = json.dumps({"submissions": list(chunk)}).encode()
            posts.append(
                Post(
                    f"{url}/api/v1/submissions/batch",
                    body,
                    {"Authorization": auth, "Content-Type": "application/json"},
                )
            )
    return posts


def parley_accepted(fired: Fired, batch: int) -> list[str]:
    """The ids the hub answered; any refused submission fails the run."""
    failures = fired.failures(201 if batch == 1 else 200)
    ids: list[str] = []
    for status, body in zip(fired.statuses, fired.bodies, strict=True):
        if batch == 1 and status == 201:
            ids.append(json.loads(body)["id"])
        elif status == 200:
            for result in json.loads(body)["results"]:
                if result.get("status") == 201:
                    ids.append(result["id"])
                else:
                    failures.append(f"batch item refused: {json.dumps(result)[:300]}")
    if failures:
        raise BenchFailure(f"{len(failures)} failed: " + "\n".join(failures[:5]))
    return ids


def authenticated(server: ParleyServer, token: str) -> None:
    try:
        response = httpx.get(
            f"{server.url}/api/v1/parties/me",
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        )
    except httpx.TransportError as exc:
        raise BenchFailure(f"{server.url}: {exc!r}\n{log_tail(server.log)}") from None
    if response.status_code != 200:
        raise BenchFailure(f"token refused: HTTP {response.status_code} {response.text[:300]}")


def verify_parley(
    server: ParleyServer, token: str, store_url: str, accepted: list[str], n: int
) -> None:
    """The hub must list exactly the accepted ids, in log order 0..n-1, and its log hold n."""
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
                break
            cursor = page["next"]
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


@contextmanager
def pyspy(venv: Path, pid: int, output: Path) -> Iterator[None]:
    """Sample ``pid`` (all threads, idle ones left out) with py-spy while the block runs."""
    log = output.with_suffix(".log")
    command = [
        str(venv / "bin" / "py-spy"),
        "record",
        "--pid",
        str(pid),
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
    deadline = time.monotonic() + 15
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


def run_parley(
    config: Config,
    n: int,
    concurrency: int,
    postgres: str | None,
    workdir: Path,
    *,
    quiet_wait_s: float,
    profile: tuple[Path, Path] | None = None,
) -> Run:
    database = postgres if config.backend == "postgres" else None
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"{config.key}-") as tmp:
        data = Path(tmp) / "data"
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
        with ExitStack() as stack:
            servers = [
                stack.enter_context(parley_server(data, database, Path(tmp) / f"serve-{i}.log"))
                for i in range(config.servers)
            ]
            started = time.perf_counter()
            compacts = sign_all(key, n)
            posts = parley_posts(servers, token, compacts, config.batch)
            prepare = time.perf_counter() - started
            for server in servers:
                # Each process looks the token up once, then serves it from memory: do that
                # lookup now, outside the timing, as a long-running hub would have.
                authenticated(server, token)
            fired = fire(
                posts,
                concurrency=concurrency,
                warmup_urls=[f"{s.url}/healthz" for s in servers],
                server_pids=[s.process.pid for s in servers],
                during=pyspy(profile[0], servers[0].process.pid, profile[1]) if profile else None,
                quiet_wait_s=quiet_wait_s,
            )
            verify_parley(
                servers[0], token, settings.database, parley_accepted(fired, config.batch), n
            )
    return Run.of(fired, n, len(posts), prepare)


# -- medallion ---------------------------------------------------------------------------------


def run_medallion(
    config: Config, n: int, concurrency: int, venv: Path, *, quiet_wait_s: float
) -> Run:
    with medallion(venv, max_page_size=max(n, 100)) as server:
        started = time.perf_counter()
        objects = stix_indicators(n)
        bodies = envelopes(objects, config.batch)
        posts = [Post(server.objects_url, body, server.headers) for body in bodies]
        prepare = time.perf_counter() - started
        fired = fire(
            posts,
            concurrency=concurrency,
            server_pids=[server.process.pid],
            quiet_wait_s=quiet_wait_s,
        )
        failures = fired.failures(202)
        added = 0
        for status, body in zip(fired.statuses, fired.bodies, strict=True):
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
    return Run.of(fired, n, len(posts), prepare)


# -- profile -----------------------------------------------------------------------------------


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
    for heading, key in (("category", "categories"), ("function (self time)", "self")):
        table = Table(heading, "share of samples", "≈ server CPU µs / submission")
        for row in profile[key]:
            table.add_row(
                row["name"], f"{row['share']:.1%}", f"{row['cpu_us_per_submission']:,.0f}"
            )
        console.print(table)


# -- report ------------------------------------------------------------------------------------


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


def results_table(outcomes: list[Outcome], n: int, runs: int) -> Table:
    base_rate = baseline_rate(outcomes)
    table = Table(
        title=f"Signed submissions accepted per second over HTTP (N={n:,}, median of {runs})"
    )
    table.add_column("configuration", no_wrap=True)
    for heading in ("items/req", "median /s", "min–max /s", "× medallion"):
        table.add_column(heading, justify="right")
    for heading in ("server CPU µs/item", "client CPU (cores)", "other CPU (cores)"):
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
        table.add_row(
            o.config.label,
            str(o.config.batch),
            f"{median:,.0f}",
            f"{min(rates):,.0f}–{max(rates):,.0f}",
            ratio,
            f"{o.median(lambda r: r.server_cpu_s / r.n * 1e6):,.0f}",
            f"{o.median(lambda r: r.client_cpu_s / r.elapsed_s):.2f}",
            f"{o.median(lambda r: r.other_cores):.2f}",
        )
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=3000, help="submissions per run (default 3000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration (default 5)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight at once (default 32)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be ≤15%% busy: it may be "
        "shared with other people's test runs (default 60)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=300, 2 runs, profile N=300 (overrides --n, --runs, --profile-n)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY",
        help="run only these configurations (repeatable): " + ", ".join(c.key for c in CONFIGS),
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, profile parley servers with py-spy and print where the time goes",
    )
    parser.add_argument(
        "--profile-config",
        action="append",
        default=[],
        metavar="KEY",
        help="parley configuration(s) to profile (repeatable; default sqlite-1 and sqlite-100: "
        "one request per submission shows the per-request cost, batches the rest)",
    )
    parser.add_argument(
        "--profile-n",
        type=int,
        default=10_000,
        help="submissions in each profiled run (default 10000: enough samples for stable shares)",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="keep py-spy's raw (collapsed-stack) profiles here, e.g. for a flame graph",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as JSON on stdout (the table goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.runs, args.profile_n = 300, 2, 300
    if min(args.n, args.runs, args.concurrency, args.profile_n) < 1:
        parser.error("--n, --runs, --concurrency and --profile-n must be positive")
    args.profile_config = args.profile_config or ["sqlite-1", "sqlite-100"]
    parley_keys = {c.key for c in CONFIGS if c.system == "parley"}
    if set(args.profile_config) - parley_keys:
        parser.error(f"--profile-config takes parley configurations: {sorted(parley_keys)}")
    if args.profile_dir is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    unknown = set(args.only) - {c.key for c in CONFIGS}
    if unknown:
        parser.error(f"unknown configurations: {sorted(unknown)}")
    return args


def measure(
    args: argparse.Namespace,
    configs: list[Config],
    postgres: str | None,
    medallion_venv: Path | None,
    spy_venv: Path | None,
) -> tuple[list[Outcome], dict[str, Any]]:
    outcomes = [Outcome(c) for c in configs]
    profiles: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as workdir:
        for run in range(1, args.runs + 1):
            for o in outcomes:
                c = o.config
                if c.system == "medallion":
                    assert medallion_venv is not None
                    result = run_medallion(
                        c, args.n, args.concurrency, medallion_venv, quiet_wait_s=args.quiet_wait
                    )
                else:
                    result = run_parley(
                        c,
                        args.n,
                        args.concurrency,
                        postgres,
                        Path(workdir),
                        quiet_wait_s=args.quiet_wait,
                    )
                o.runs.append(result)
                err.print(
                    f"[dim]run {run}/{args.runs}[/] {c.label}: [bold]{result.rate:,.0f}/s[/] "
                    f"({result.requests} requests in {result.elapsed_s:.2f} s, client "
                    f"{result.client_cpu_s / result.elapsed_s:.2f} cores, machine "
                    f"{result.machine_busy:.0%} busy, {result.background:.0%} before)"
                )
        if spy_venv is not None:
            for key in args.profile_config:
                c = next(c for c in CONFIGS if c.key == key)
                raw = (args.profile_dir or Path(workdir)) / f"{key}.pyspy.txt"
                result = run_parley(
                    c,
                    args.profile_n,
                    args.concurrency,
                    postgres,
                    Path(workdir),
                    quiet_wait_s=args.quiet_wait,
                    profile=(spy_venv, raw),
                )
                profiles[key] = {"run": asdict(result), **analyse_profile(raw, result)}
    return outcomes, profiles


def baseline_rate(outcomes: list[Outcome]) -> float | None:
    baseline = next((o for o in outcomes if o.config.baseline and o.runs), None)
    return baseline.median(lambda r: r.rate) if baseline else None


def print_report(
    console: Console,
    args: argparse.Namespace,
    outcomes: list[Outcome],
    profiles: dict[str, Any],
    notes: dict[str, Any],
    skipped: list[str],
) -> None:
    console.print(results_table(outcomes, args.n, args.runs))
    signing = [
        r.prepare_s / r.n * 1e6 for o in outcomes if o.config.system == "parley" for r in o.runs
    ]
    pg = notes.get("postgres")
    console.print(
        f"machine: {notes['cpu']}, {notes['cores']} cores, {notes['memory_gib']} GiB, Linux "
        f"{notes['kernel']}, Python {notes['python']}, SQLite {notes['sqlite']} (WAL, "
        "synchronous=NORMAL)"
        + (
            f", PostgreSQL {pg['version']} (fsync={pg['fsync']}, synchronous_commit="
            f"{pg['synchronous_commit']}) on the same machine"
            if pg
            else ""
        )
        + f". Load: httpx {notes['httpx']} on asyncio in the benchmark's process, "
        f"{args.concurrency} requests in flight, one keep-alive connection each; server(s), "
        "database and client share the cores."
        + (
            f" Signing before timing: {statistics.median(signing):,.0f} µs per document."
            if signing
            else ""
        )
    )
    background = [r.background for o in outcomes for r in o.runs]
    if background:
        console.print(
            f"Other load just before timing (each run waits up to {args.quiet_wait:.0f} s for ≤15% "
            "busy): median "
            f"{statistics.median(background):.0%}, worst {max(background):.0%} of the machine."
        )
    if skipped:
        console.print(f"[yellow]PostgreSQL skipped[/] ({POSTGRES_ENV} unset): {', '.join(skipped)}")
    for key, profile in profiles.items():
        label = next(c.label for c in CONFIGS if c.key == key)
        print_profile(label, Run(**profile["run"]), profile, console)


def json_report(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    profiles: dict[str, Any],
    notes: dict[str, Any],
    skipped: list[str],
) -> dict[str, Any]:
    base = baseline_rate(outcomes)
    return {
        "n": args.n,
        "runs": args.runs,
        "concurrency": args.concurrency,
        "machine": notes,
        "skipped": skipped,
        "results": [
            {
                **asdict(o.config),
                "median_per_s": o.median(lambda r: r.rate),
                "min_per_s": min(r.rate for r in o.runs),
                "max_per_s": max(r.rate for r in o.runs),
                "ratio_to_medallion": o.median(lambda r: r.rate) / base if base else None,
                "runs": [{**asdict(r), "rate": r.rate} for r in o.runs],
            }
            for o in outcomes
        ],
        "profile": profiles,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    postgres = os.environ.get(POSTGRES_ENV) or None
    configs = [c for c in CONFIGS if c.key in args.only or (not args.only and c.default)]
    skipped: list[str] = []
    if postgres is None and any(c.backend == "postgres" for c in configs):
        skipped = [c.key for c in configs if c.backend == "postgres"]
        err.print(
            f"[yellow]PostgreSQL skipped:[/] set {POSTGRES_ENV}, e.g. "
            "postgresql://postgres@/parley_bench?host=/tmp/devpg&port=55432"
        )
        configs = [c for c in configs if c.backend != "postgres"]
    if args.profile and postgres is None:
        args.profile_config = [k for k in args.profile_config if not k.startswith("postgres")]
    try:
        medallion_venv = (
            ensure_venv(".venv-medallion", [MEDALLION_REQUIREMENT])
            if any(c.system == "medallion" for c in configs)
            else None
        )
        spy_venv = ensure_venv(".venv-pyspy", [PYSPY_REQUIREMENT]) if args.profile else None
        notes = machine_notes(postgres, medallion_venv)
        outcomes, profiles = measure(args, configs, postgres, medallion_venv, spy_venv)
    except BenchFailure as exc:
        err.print(f"[red]benchmark failed:[/] {exc}")
        return 1
    print_report(err if args.json else out, args, outcomes, profiles, notes, skipped)
    if args.json:
        print(json.dumps(json_report(args, outcomes, profiles, notes, skipped), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
