"""TAXII 2.1: parley against medallion 3.0.0 (memory backend), same objects, same run.

For each size (1,000, 10,000 and 100,000 objects; medallion only up to 10,000, its cost grows
with the square of the collection), both servers start empty and get the same STIX 2.1
indicators:

* **add**: every object POSTed in envelopes of 100, one request at a time, as a TAXII client
  such as taxii2-client sends them; objects per second from the first request to the last
  answer. parley checks each object (as stix2-validator would), records it as a submission,
  logs it, and indexes it before it answers.
* **read**: the whole collection paged through with ``limit=100``, following ``next``, one
  request at a time; objects per second.

Every run is verified: each add answered with every object accepted, each read returned every
object exactly once. parley runs as ``parley serve`` on SQLite (``--postgres URL`` for
PostgreSQL) in a fresh data directory; medallion runs from ``bench/.venv-medallion`` (made on first
use by bench/medallion_harness.py, never in the project's venv), on loopback.

    .venv/bin/python bench/taxii.py [--sizes 1000,10000,100000] [--medallion-max 10000] [--pairs N]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import loadgen
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from medallion_harness import (
    MEDALLION_REQUIREMENT,
    TAXII_MEDIA_TYPE,
    BenchFailure,
    Post,
    cpu_seconds,
    ensure_venv,
    envelopes,
    fire,
    free_port,
    medallion,
    stix_indicators,
    stop,
    wait_for_quiet,
    wait_until_up,
)
from rich.console import Console
from rich.table import Table

from parley.hub import setup
from parley.intel import collections

ENVELOPE = 100
LIMIT = 100
PARTY = "bench"


@dataclass
class Measured:
    server: str
    n: int
    add_s: float
    add_cpu_s: float
    read_s: float
    read_cpu_s: float
    pages: int

    @property
    def add_rate(self) -> float:
        return self.n / self.add_s

    @property
    def read_rate(self) -> float:
        return self.n / self.read_s


@dataclass
class Target:
    """One TAXII server as the benchmark drives it."""

    name: str
    objects_url: str
    headers: dict[str, str]
    pid: int


# -- servers -----------------------------------------------------------------------------------


def parley_bin() -> str:
    candidate = Path(sys.prefix) / "bin" / "parley"
    return str(candidate) if candidate.exists() else "parley"


@contextmanager
def parley(workdir: Path, postgres: str | None) -> Iterator[Target]:
    """A fresh hub (``parley init``, one member party) served by ``parley serve``."""
    data = workdir / "data"
    command = [parley_bin(), "init", "--data", str(data), "--json"]
    if postgres:
        _reset_postgres(postgres)
        command += ["--database", postgres]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchFailure(f"parley init failed:\n{done.stdout}{done.stderr}")
    settings = setup.settings_for(data, postgres)
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(settings, PARTY, "Benchmark member", "member", key.public_key())
    # A second member, so that a pair collection can take the warm-up objects.
    other = Ed25519PrivateKey.generate()  # each party signs with a key of its own
    setup.add_party(settings, "other", "Other member", "member", other.public_key())
    port = free_port()
    serve = [parley_bin(), "serve", "--data", str(data), "--host", "127.0.0.1"]
    serve += ["--port", str(port), *(["--database", postgres] if postgres else [])]
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(serve, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    headers = {
        "Accept": TAXII_MEDIA_TYPE,
        "Content-Type": TAXII_MEDIA_TYPE,
        "Authorization": f"Bearer {token}",
    }
    try:
        wait_until_up(f"{url}/taxii2/", process, log, headers=headers, timeout_s=120.0)
        warm_up(url, headers)
        everyone = collections.id_of(collections.ALL)
        yield Target(
            "parley",
            f"{url}/taxii2/parley/collections/{everyone}/objects/",
            headers,
            process.pid,
        )
    finally:
        stop(process)


def warm_up(url: str, headers: dict[str, str]) -> None:
    """What a hub that has been running a while has done already: each serving process has
    loaded its STIX checking rules (on its first TAXII request), and so have its checking
    helpers. The objects go to another
    collection than the measured one; a few requests each, so every process gets some."""
    pair = collections.id_of(collections.key_of([PARTY, "other"]))
    with httpx.Client(trust_env=False, timeout=120.0) as client:
        for _ in range(4 * (os.cpu_count() or 1)):
            body = json.dumps({"objects": stix_indicators(50)}).encode()
            response = client.post(
                f"{url}/taxii2/parley/collections/{pair}/objects/", content=body, headers=headers
            )
            if response.status_code != 202:
                raise BenchFailure(f"warm-up: {response.status_code} {response.text[:300]}")
    # A serving process with a spare core also starts a checking helper on its first envelope
    # (parley/intel/pool.py), which loads the same rules in about 5 s of CPU: let it finish.
    wait_for_quiet(timeout_s=60.0)


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def baseline(venv: Path) -> Iterator[Target]:
    with medallion(venv, max_page_size=LIMIT) as server:
        yield Target("medallion", server.objects_url, server.headers, server.process.pid)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants (parley serve's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            continue
        todo += children.get(current, [])
    return total


# -- the two measurements ----------------------------------------------------------------------


def add_all(
    target: Target, bodies: Sequence[bytes], n: int, quiet_s: float = 10.0
) -> tuple[float, float]:
    posts = [Post(target.objects_url, body, target.headers) for body in bodies]
    cpu_before = tree_cpu(target.pid)
    fired = fire(posts, concurrency=1, quiet_wait_s=quiet_s)
    cpu = tree_cpu(target.pid) - cpu_before
    failures = fired.failures(202)
    added = 0
    for status, body in zip(fired.statuses, fired.bodies, strict=True):
        if status == 202:
            answer = json.loads(body)
            added += int(answer.get("success_count", 0))
            if answer.get("failure_count"):
                failures.append(f"refused: {json.dumps(answer['failures'][:2])[:300]}")
    if failures or added != n:
        raise BenchFailure(f"{target.name}: {added}/{n} added; " + "; ".join(failures[:3]))
    return fired.elapsed_s, cpu


def read_all(target: Target, expected: set[str]) -> tuple[float, float, int]:
    """Page through the collection one request at a time on a raw socket (loadgen.OneAtATime):
    an HTTP library's own cost per request would be a visible share of parley's pages."""
    seen: list[str] = []
    pages = 0
    url = urlsplit(target.objects_url)
    headers = {k: v for k, v in target.headers.items() if k != "Content-Type"}
    query: dict[str, str] = {"limit": str(LIMIT)}
    # medallion answers its first page after sorting the whole collection against its manifest
    # (quadratic: ten minutes at 10,000 objects here), hence the long timeout
    with loadgen.OneAtATime(url.port or 80, timeout_s=3600.0) as client:
        # Connect with the discovery request, which reads no object: a first objects request
        # would make medallion do that sort once more outside the clock.
        client.send(loadgen.request("GET", "/taxii2/", headers=headers))
        cpu_before = tree_cpu(target.pid)
        start = time.perf_counter()
        while True:
            get = loadgen.request("GET", f"{url.path}?{urlencode(query)}", headers=headers)
            status, answer = client.send(get)
            if status != 200:
                raise BenchFailure(f"{target.name} read: {status} {answer[:300]!r}")
            body = orjson.loads(answer)
            pages += 1
            seen += [o["id"] for o in body.get("objects", [])]
            if not body.get("more"):
                break
            query = {"limit": str(LIMIT), "next": str(body["next"])}
        elapsed = time.perf_counter() - start
        cpu = tree_cpu(target.pid) - cpu_before
    if len(seen) != len(expected) or set(seen) != expected:
        raise BenchFailure(
            f"{target.name} read {len(seen)} objects ({len(set(seen))} distinct), "
            f"expected {len(expected)}"
        )
    return elapsed, cpu, pages


def measure(
    target: Target,
    objects: list[dict[str, Any]],
    console: Console,
    quiet_s: float,
    read: bool = True,
) -> Measured:
    n = len(objects)
    bodies = envelopes(objects, ENVELOPE)
    add_s, add_cpu = add_all(target, bodies, n, quiet_s)
    wait_for_quiet(timeout_s=quiet_s)
    console.print(
        f"  {target.name} {n:>7,}: added at {n / add_s:,.0f}/s, "
        f"server CPU {add_cpu / n * 1e6:,.0f} µs/object",
        highlight=False,
    )
    if not read:
        return Measured(target.name, n, add_s, add_cpu, float("nan"), float("nan"), 0)
    read_s, read_cpu, pages = read_all(target, {o["id"] for o in objects})
    console.print(f"  {target.name} {n:>7,}: read at {n / read_s:,.0f}/s", highlight=False)
    return Measured(target.name, n, add_s, add_cpu, read_s, read_cpu, pages)


# -- report ------------------------------------------------------------------------------------


def table(results: list[Measured]) -> Table:
    """With several pairs, each server's run of median add rate at each size."""
    by: dict[tuple[str, int], Measured] = {}
    for key in {(r.server, r.n) for r in results}:
        runs = sorted((r for r in results if (r.server, r.n) == key), key=lambda r: r.add_rate)
        by[key] = runs[(len(runs) - 1) // 2]
    sizes = sorted({r.n for r in results})
    first = by.get(("parley", sizes[0]))
    out = Table(title=f"TAXII 2.1: add in envelopes of {ENVELOPE}, paged read with limit={LIMIT}")
    for column in (
        "objects",
        "add/s parley",
        "add/s medallion",
        "add ×",
        "read/s parley",
        "read/s medallion",
        "read ×",
        f"parley per object vs {sizes[0]:,} (add, read)",
        "server CPU µs/object add (parley, medallion)",
        "… read",
    ):
        out.add_column(column, justify="right")
    for n in sizes:
        mine, theirs = by.get(("parley", n)), by.get(("medallion", n))
        growth = "–"
        if mine and first:
            growth = (
                f"{first.add_rate / mine.add_rate:.2f}×, {first.read_rate / mine.read_rate:.2f}×"
            )
        out.add_row(
            f"{n:,}",
            f"{mine.add_rate:,.0f}" if mine else "–",
            f"{theirs.add_rate:,.0f}" if theirs else "not run",
            f"{mine.add_rate / theirs.add_rate:,.2f}" if mine and theirs else "–",
            f"{mine.read_rate:,.0f}" if mine else "–",
            f"{theirs.read_rate:,.1f}" if theirs else "not run",
            f"{mine.read_rate / theirs.read_rate:,.0f}" if mine and theirs else "–",
            growth,
            _cpu(mine, theirs, "add_cpu_s"),
            _cpu(mine, theirs, "read_cpu_s"),
        )
    return out


def _cpu(mine: Measured | None, theirs: Measured | None, field: str) -> str:
    def one(m: Measured | None) -> str:
        return f"{getattr(m, field) / m.n * 1e6:,.0f}" if m else "–"

    return f"{one(mine)}, {one(theirs)}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--medallion-max", type=int, default=10_000)
    parser.add_argument("--postgres", default=None, help="run parley on this PostgreSQL URL")
    parser.add_argument(
        "--add-only",
        action="store_true",
        help="measure adding only (medallion's paged read of 10,000 takes minutes)",
    )
    parser.add_argument(
        "--refs",
        action="store_true",
        help="each object names an author and a TLP marking (created_by_ref, "
        "object_marking_refs), as exported intelligence usually does",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="runs of each server at each size, alternating which goes first; the ratio is "
        "the median of the pairs'",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="seconds to wait for idle cores first"
    )
    return parser.parse_args(argv)


def run_parley(
    objects: list[dict[str, Any]], args: argparse.Namespace, console: Console
) -> Measured:
    with (
        tempfile.TemporaryDirectory(prefix="taxii-bench-") as tmp,
        parley(Path(tmp), args.postgres) as target,
    ):
        return measure(target, objects, console, args.quiet_wait, not args.add_only)


def run_medallion(
    venv: Path, objects: list[dict[str, Any]], args: argparse.Namespace, console: Console
) -> Measured:
    with baseline(venv) as target:
        return measure(target, objects, console, args.quiet_wait, not args.add_only)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=200)
    sizes = [int(s) for s in args.sizes.split(",")]
    venv = ensure_venv(".venv-medallion", [MEDALLION_REQUIREMENT])
    results: list[Measured] = []
    ratios: dict[int, list[float]] = {}
    for n in sizes:
        objects = stix_indicators(n, refs=args.refs)
        for pair in range(args.pairs):
            ours = functools.partial(run_parley, objects, args, console)
            theirs = functools.partial(run_medallion, venv, objects, args, console)
            if n > args.medallion_max:
                results.append(ours())
                continue
            # Alternate who goes first: the machine's speed drifts within minutes.
            if pair % 2 == 0:
                mine, base = ours(), theirs()
            else:
                base, mine = theirs(), ours()
            results += [mine, base]
            ratios.setdefault(n, []).append(mine.add_rate / base.add_rate)
            console.print(f"  pair {pair + 1} at {n:,}: add × {ratios[n][-1]:.2f}", highlight=False)
    console.print(table(results))
    for n, found in ratios.items():
        listed = ", ".join(f"{r:.2f}" for r in found)
        console.print(
            f"add × medallion at {n:,}, pair by pair: {listed}; "
            f"median {statistics.median(found):.2f}",
            highlight=False,
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
