"""Benchmark the verifiable log (issue 3).

    .venv/bin/python bench/log.py [--entries 1000000] [--rates 100,300,1000] [--seconds 10]
        [--receipts-only] [--json]

Measures, on SQLite in a temporary data directory:

1. entries integrated per second: signed submissions stored in group-committed batches and
   appended to the in-memory tree (what the writer thread does), and the tree alone;
2. inclusion-proof time on a tree of ``--entries`` leaves (median and p99 of 10,000 proofs);
3. time to verify a log of ``--entries`` entries from its tiles over HTTP, as `parley verify log`
   does against a running `parley serve`;
4. receipt latency, p50 and p99, at each of the steady ``--rates`` submissions/s over HTTP
   (open loop, bench/loadgen.py, a fresh hub per rate): from when a submission was due to be
   sent to holding its receipt (the client asks with ``?receipt=10``).

Anchors from the issue: TesseraCT writes 600 entries/s on a 2-vCPU VM; Sunlight sequences once a
second. Goals: 3,000 submissions/s integrated, receipt p99 within 250 ms at 1,000/s, a million
entries verified in 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import loadgen
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from parley import clock, config
from parley.client.http import document
from parley.client.mirror import verify_remote
from parley.hub import setup
from parley.hub.admission import check
from parley.log import merkle
from parley.parties import jws
from parley.store.db import Store

console = Console(stderr=True)
RNG = random.Random(9162)


def site() -> dict[str, Any]:
    """A generated hospital somewhere in Syria's box; each one elsewhere, as real ones are."""
    return {
        "category": "hospital",
        "name": "Benchmark hospital (generated)",
        "geometry": {
            "type": "Point",
            "coordinates": [RNG.uniform(35.8, 42.0), RNG.uniform(32.4, 37.2)],
        },
        "radius_m": 300,
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_hub(root: Path) -> tuple[config.Settings, Ed25519PrivateKey, str]:
    data = root / "hub"
    setup.init(data, None, None)
    settings = config.load(data)
    (data / "parley.toml").write_text(
        (data / "parley.toml")
        .read_text()
        .replace("checkpoint_interval_s = 1.0", "checkpoint_interval_s = 0.05")
    )
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(settings, "relief", "Relief", "notifier", key.public_key())
    return config.load(data), key, token


def integrate(settings: config.Settings, key: Ed25519PrivateKey, n: int) -> dict[str, float]:
    """Check, store and add to the tree, in batches of 1,000, as the hub's writer does."""
    store = Store(settings.database)
    party = next(p for p in store.parties() if p.id == "relief")
    signed = [jws.sign(document("site", "relief", site()), key, "relief") for _ in range(n)]
    tree = merkle.MerkleTree()
    start = time.perf_counter()
    checked = [check(s, party, lambda _p: True, clock.now(), 300).record for s in signed]
    after_check = time.perf_counter()
    for i in range(0, n, 1000):
        batch = checked[i : i + 1000]
        store.append(batch)
        for record in batch:
            tree.append(merkle.leaf_hash(record.entry))
    end = time.perf_counter()
    store.close()
    leaves = [os.urandom(32) for _ in range(n)]
    t0 = time.perf_counter()
    bare = merkle.MerkleTree()
    for leaf in leaves:
        bare.append(leaf)
    tree_only = time.perf_counter() - t0
    return {
        "submissions_per_s": n / (end - start),
        "check_per_s": n / (after_check - start),
        "store_and_tree_per_s": n / (end - after_check),
        "tree_appends_per_s": n / tree_only,
    }


def fill_store(settings: config.Settings, entries: int) -> None:
    """Entries for the verification run, written straight to the store (no signatures needed
    to measure verification; the entries are realistic in size)."""
    from parley.store.db import NewSubmission

    store = Store(settings.database)
    now = clock.iso(clock.now())
    entry = (
        b'{"id":"%s","jws_sha256":"%s","kind":"incident","party":"relief","received_at":"%s","v":1}'
    )
    with console.status(f"writing {entries:,} entries") as status:
        for i in range(0, entries, 5000):
            batch = [
                NewSubmission(
                    f"{j:036d}",
                    "incident",  # a kind screening ignores: no real signed document here
                    "relief",
                    f"bulk-{j:012d}",
                    now,
                    now,
                    None,
                    "x.y.z",
                    None,
                    entry % (b"%036d" % j, os.urandom(32).hex().encode(), now.encode()),
                )
                for j in range(i, min(entries, i + 5000))
            ]
            store.append(batch)
            status.update(f"writing entries: {i + len(batch):,}/{entries:,}")
    store.close()


def proofs(entries: int) -> dict[str, float]:
    tree = merkle.MerkleTree(os.urandom(32) for _ in range(entries))
    times = []
    for _ in range(10_000):
        index = random.randrange(entries)
        t0 = time.perf_counter()
        tree.inclusion_proof(index, entries)
        times.append(time.perf_counter() - t0)
    return {"p50_us": percentile(times, 0.5) * 1e6, "p99_us": percentile(times, 0.99) * 1e6}


def serve(settings: config.Settings, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--data",
            str(settings.data_dir),
            "--port",
            str(port),
            # One process: the receipts are measured on one hub, as before --workers existed.
            *(
                ["--workers", "1"]
                if loadgen.serve_has_workers(str(Path(sys.executable).parent / "parley"))
                else []
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("parley serve did not start")


def receipts(
    url: str,
    token: str,
    key: Ed25519PrivateKey,
    rate: int,
    seconds: float,
    connections: int = 64,
    processes: int = 2,
) -> dict[str, Any]:
    """Open-loop load at ``rate``/s: each submission asks for its receipt in the answer
    (``?receipt=10``); latency runs from the moment it was due to be sent to the receipt.

    The load is bench/loadgen.py's raw-socket HTTP/1.1 client, every submission signed before
    the clock starts."""
    n = int(rate * seconds)
    port = int(url.rsplit(":", 1)[1])
    warm = 20
    signed = [jws.sign(document("site", "relief", site()), key, "relief") for _ in range(n + warm)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/jose"}
    requests = [
        loadgen.request("POST", "/api/v1/submissions?receipt=10", c.encode(), headers)
        for c in signed
    ]
    # A few receipts before the clock, so the first timed ones do not pay for the hub's first
    # token lookup, screening index or signing key.
    loadgen.run(requests[:warm], [port], connections=4, processes=1)
    requests = requests[warm:]
    result = loadgen.run(requests, [port], connections=connections, processes=processes, rate=rate)
    ok = [
        i
        for i, (status, body) in enumerate(zip(result.statuses, result.bodies, strict=True))
        if status == 201 and b'"receipt":{' in body
    ]
    latencies = [result.done[i] - result.due[i] for i in ok]
    last_due = max(result.due) - result.started
    return {
        "offered_per_s": n / last_due if last_due > 0 else float(n),
        "p50_ms": percentile(latencies, 0.5) * 1e3 if latencies else float("nan"),
        "p99_ms": percentile(latencies, 0.99) * 1e3 if latencies else float("nan"),
        "failures": n - len(ok),
        # What the hub kept up with: below the offered rate, receipts wait in a growing queue.
        "answered_per_s": n / result.elapsed_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--integrate", type=int, default=20_000)
    parser.add_argument(
        "--rates",
        default="100,300,1000",
        help="receipt latency at each of these submissions/s, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=10, help="of load at each rate")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument(
        "--receipts-only", action="store_true", help="skip integration, proofs and verification"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r]
    results: dict[str, Any] = {"load_average_before": loadgen.load_average()}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.receipts_only:
            settings, key, token = make_hub(Path(tmp) / "integrate")
            with console.status("integrating"):
                results["integrate"] = integrate(settings, key, args.integrate)
            with console.status("inclusion proofs"):
                results["inclusion_proof"] = proofs(args.entries)
            settings, key, token = make_hub(Path(tmp) / "verify")
            fill_store(settings, args.entries)
            proc = serve(settings, args.port)
            try:
                url = f"http://127.0.0.1:{args.port}"
                log_key = httpx.get(f"{url}/log/verifier-key").text.strip()
                while httpx.get(f"{url}/log/checkpoint").text.split("\n")[1] != str(args.entries):
                    time.sleep(0.2)
                t0 = time.perf_counter()
                verified = verify_remote(url, log_key, None, progress=not args.json)
                results["verify"] = {
                    "entries": verified["size"],
                    "seconds": time.perf_counter() - t0,
                }
            finally:
                proc.terminate()
                proc.wait()
        results["receipts"] = []
        for number, rate in enumerate(rates):
            # A fresh hub per rate, so one rate's backlog never delays the next one's receipts.
            settings, key, token = make_hub(Path(tmp) / f"receipts-{rate}")
            port = args.port + 1 + number
            proc = serve(settings, port)
            loadgen.settle([proc.pid])
            try:
                with console.status(f"receipts at {rate}/s for {args.seconds} s"):
                    found = receipts(f"http://127.0.0.1:{port}", token, key, rate, args.seconds)
                found["load_average"] = loadgen.load_average()
                results["receipts"].append(found)
                console.print(
                    f"receipts at {rate}/s (answered {found['answered_per_s']:,.0f}/s): p50 "
                    f"{found['p50_ms']:,.0f} ms, p99 "
                    f"{found['p99_ms']:,.0f} ms, {found['failures']} failures, load average "
                    f"{found['load_average']}"
                )
            finally:
                proc.terminate()
                proc.wait()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    table = Table("measure", "result", "goal / anchor", title="parley log benchmark")
    if "integrate" in results:
        i = results["integrate"]
        table.add_row(
            "submissions checked+stored+integrated",
            f"{i['submissions_per_s']:,.0f}/s",
            "3,000/s; TesseraCT 600/s",
        )
        table.add_row("  of which check (JWS, JCS, Ed25519)", f"{i['check_per_s']:,.0f}/s", "")
        table.add_row("  of which store + tree", f"{i['store_and_tree_per_s']:,.0f}/s", "")
        table.add_row("tree appends alone", f"{i['tree_appends_per_s']:,.0f}/s", "")
        p = results["inclusion_proof"]
        table.add_row(
            f"inclusion proof, {args.entries:,} leaves",
            f"p50 {p['p50_us']:.1f} µs, p99 {p['p99_us']:.1f} µs",
            "",
        )
        v = results["verify"]
        table.add_row(f"verify {v['entries']:,} entries over HTTP", f"{v['seconds']:.1f} s", "10 s")
    for rate, r in zip(rates, results["receipts"], strict=True):
        table.add_row(
            f"receipt latency at {rate:,}/s (offered {r['offered_per_s']:,.0f}/s, "
            f"answered {r['answered_per_s']:,.0f}/s)",
            f"p50 {r['p50_ms']:,.0f} ms, p99 {r['p99_ms']:,.0f} ms, {r['failures']} failures, "
            f"load average {r['load_average']}",
            "p99 250 ms at 1,000/s",
        )
    Console().print(table)
    Console().print(f"load average before: {results['load_average_before']}")


if __name__ == "__main__":
    main()
