"""TAXII add, two versions of parley side by side: alternating runs, compared pair by pair.

This machine's speed swings by up to 1.6x from one minute to the next (the same commit added
10,000 objects at 1,266 and at 1,804/s within ten minutes, and medallion at 376 and 704/s), so
one run of each version says little. Here the two versions take turns (A B, B A, A B, ...), each
run a fresh ``parley serve`` adding ``--objects`` indicators in envelopes of 100 as bench/taxii.py
does (raw socket, one request at a time), and the answer is the median of each pair's ratio:
neighbouring runs share the machine's mood.

    .venv/bin/python bench/taxii_ab.py --base /tmp/base/src            # 8 pairs of 10,000
    git worktree add /tmp/base <commit>   # the version to compare with, then the above

``--base`` is the ``src`` directory of the other version (put first on its PYTHONPATH); the
version compared with it is the one this venv imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ONE_RUN = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import taxii
from medallion_harness import envelopes, stix_indicators
n = int(sys.argv[1])
refs = sys.argv[3] == "refs"
with tempfile.TemporaryDirectory(prefix="taxii-ab-") as tmp:
    with taxii.parley(Path(tmp), None) as target:
        bodies = envelopes(stix_indicators(n, refs=refs), taxii.ENVELOPE)
        seconds, cpu = taxii.add_all(target, bodies, n, 5.0)
print(json.dumps({"rate": n / seconds, "cpu_us": cpu / n * 1e6}))
"""


def run(version: str, base: Path, objects: int, refs: bool) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(base) if version == "base" else "")
    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(objects), here, "refs" if refs else "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {version} run failed:\n{done.stdout}{done.stderr}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other version's src/")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--refs", action="store_true", help="objects name an author and a marking (taxii.py --refs)"
    )
    args = parser.parse_args(argv)
    if not (args.base / "parley").is_dir():
        parser.error(f"--base {args.base}: no parley package there (give a checkout's src/)")
    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    for pair in range(args.pairs):
        order = ("base", "this") if pair % 2 == 0 else ("this", "base")
        for version in order:
            runs[version].append(run(version, args.base, args.objects, args.refs))
        b, t = runs["base"][-1], runs["this"][-1]
        print(
            f"pair {pair + 1}: base {b['rate']:,.0f}/s ({b['cpu_us']:,.0f} µs/object), "
            f"this {t['rate']:,.0f}/s ({t['cpu_us']:,.0f} µs/object), "
            f"this/base {t['rate'] / b['rate']:.2f}",
            flush=True,
        )
    ratios = [t["rate"] / b["rate"] for b, t in zip(runs["base"], runs["this"], strict=True)]
    rate = {v: statistics.median(r["rate"] for r in runs[v]) for v in runs}
    cpu = {v: statistics.median(r["cpu_us"] for r in runs[v]) for v in runs}
    print(
        f"medians: base {rate['base']:,.0f}/s and {cpu['base']:,.0f} µs of server CPU an object, "
        f"this {rate['this']:,.0f}/s and {cpu['this']:,.0f} µs; this/base per pair "
        f"{statistics.median(ratios):.2f} (from {min(ratios):.2f} to {max(ratios):.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
