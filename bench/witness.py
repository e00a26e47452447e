"""Benchmark witness cosigning (issue 13): checkpoint to cosigned checkpoint latency.

    .venv/bin/python bench/witness.py [--checkpoints 300] [--witnesses 1,3,5] [--json]

For each witness count, starts that many real ``parley witness serve`` processes on loopback
(each with its own data directory and SQLite state), then, like the hub's checkpoint thread,
grows a Merkle tree by a few entries, signs a checkpoint and has it cosigned through the hub's
``Cosigners`` (parallel add-checkpoint requests with consistency proofs). Latency is from the
signed checkpoint to the note holding every cosignature; the no-witness baseline (signing
alone) is measured in the same run, and the ratio printed.

Goal from the issue: p99 under 250 ms with 3 witnesses, so receipts stay near the one-second
anchor of Sunlight and Tessera.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.hub.cosigning import Cosigners, Witness
from parley.log import checkpoint as cp
from parley.log import note
from parley.log.merkle import MerkleTree, leaf_hash
from parley.witness import datadir

ORIGIN = "bench.parley.example/log"


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_witnesses(
    n: int, root: Path, log_key: str
) -> tuple[list[subprocess.Popen[bytes]], list[Witness]]:
    procs: list[subprocess.Popen[bytes]] = []
    witnesses: list[Witness] = []
    for i in range(n):
        data = root / f"w{len(list(root.iterdir()))}"
        signer = datadir.init(data, f"bench.witness/w{i}")
        datadir.add_log(data, ORIGIN, log_key)
        port = _port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "parley", "witness", "serve", "--data", str(data),
             "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "add-checkpoint", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("a witness did not start") from None
                time.sleep(0.05)
        witnesses.append(Witness(url, signer.verifier()))
    return procs, witnesses


def run(n_witnesses: int, checkpoints: int, root: Path) -> dict[str, Any]:
    signer = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
    procs, witnesses = (
        start_witnesses(n_witnesses, root, signer.verifier().key_string())
        if n_witnesses
        else ([], [])
    )
    cosigners = Cosigners(witnesses, timeout_s=5.0)
    tree = MerkleTree()
    latencies: list[float] = []
    missing = 0
    try:
        for i in range(checkpoints + 5):  # the first few warm up connections and the TOFU
            for j in range(4):
                tree.append(leaf_hash(hashlib.sha256(b"%d/%d" % (i, j)).digest()))
            size = tree.size
            start = time.perf_counter()
            signed = cp.sign_checkpoint(cp.Checkpoint(ORIGIN, size, tree.root(size)), signer)
            cosigned = cosigners.cosign(size, signed, tree.consistency_proof)
            elapsed = time.perf_counter() - start
            if i < 5:
                continue
            latencies.append(elapsed * 1000)
            if cosigned.count("\n\u2014 ") - 1 < n_witnesses:
                missing += 1
    finally:
        cosigners.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "witnesses": n_witnesses,
        "checkpoints": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(latencies), 2),
        "checkpoints_missing_a_cosignature": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=300)
    parser.add_argument("--witnesses", default="1,3,5")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.witnesses.split(",")]
    with tempfile.TemporaryDirectory(prefix="parley-bench-witness-") as tmp:
        root = Path(tmp)
        baseline = run(0, args.checkpoints, root)
        results = [run(n, args.checkpoints, root) for n in counts]
    for r in results:
        r["p50_ratio_to_baseline"] = round(r["p50_ms"] / max(baseline["p50_ms"], 1e-6), 1)
        r["p99_ratio_to_baseline"] = round(r["p99_ms"] / max(baseline["p99_ms"], 1e-6), 1)
    three = next((r for r in results if r["witnesses"] == 3), None)
    summary = {
        "cpus": os.cpu_count(),
        "baseline": baseline,
        "results": results,
        "goal": "p99 under 250 ms with 3 witnesses",
        "goal_met": None if three is None else three["p99_ms"] < 250,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"checkpoint -> cosigned checkpoint, {args.checkpoints} checkpoints each, loopback")
    print(f"  no witness (signing only): p50 {baseline['p50_ms']} ms, p99 {baseline['p99_ms']} ms")
    for r in results:
        print(
            f"  {r['witnesses']} witness(es): p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"max {r['max_ms']} ms; x{r['p50_ratio_to_baseline']} p50 and "
            f"x{r['p99_ratio_to_baseline']} p99 of the baseline; "
            f"{r['checkpoints_missing_a_cosignature']} missing a cosignature"
        )
    if three is not None:
        print(
            f"goal (p99 < 250 ms with 3 witnesses): {'met' if summary['goal_met'] else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
