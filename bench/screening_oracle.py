"""The screening engine against the independent geodesic oracle on 100,000 random cases.

The cases and the oracle are the test suite's (tests/geo/cases.py, tests/geo/oracle.py): two
footprints of random kinds (circles, point sites, polygons, polygons with holes, buffered site
polygons, multipolygons, routes with corridors), mostly in lon 35-43, lat 31.8-38 and one in
twenty anywhere between 75S and 75N, placed so that about a third meet and many are close
calls. The oracle uses nothing but pyproj.Geod.

    .venv/bin/python bench/screening_oracle.py               # 100,000 cases on 2 processes
    .venv/bin/python bench/screening_oracle.py --cases 10000 --workers 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.geo.cases import Tally, compare

CHUNK = 2_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=500_000, help="first chunk's seed")
    args = parser.parse_args(argv)
    console = Console(width=120)

    chunks = [min(CHUNK, args.cases - i) for i in range(0, args.cases, CHUNK)]
    seeds = [args.seed + i for i in range(len(chunks))]
    total = Tally()
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        for tally in pool.map(compare, seeds, chunks):
            total.add(tally)
            console.print(
                f"  {total.cases:>7,} cases, {len(total.misses)} misses, "
                f"{len(total.false_alarms)} false alarms",
                highlight=False,
            )
    elapsed = time.perf_counter() - started

    table = Table(title=f"Engine vs geodesic oracle, {total.cases:,} random cases")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("cases", f"{total.cases:,}")
    table.add_row("meet (oracle)", f"{total.meetings:,}")
    table.add_row("within 1 m of the threshold", f"{total.near:,}")
    table.add_row("misses (oracle meets, engine does not)", f"{len(total.misses)}")
    table.add_row("false alarms (engine meets, oracle does not)", f"{len(total.false_alarms)}")
    table.add_row("max disagreement from the threshold", f"{total.worst_disagreement_m:.3g} m")
    table.add_row(
        "max distance error beyond the engine's bound", f"{total.worst_distance_error_m:.3g} m"
    )
    table.add_row("time", f"{elapsed:.0f} s on {args.workers} process(es)")
    console.print(table)
    for label, d, t in (total.misses + total.false_alarms)[:20]:
        console.print(f"  {label}: oracle distance {d:.4f} m, threshold {t:.4f} m")
    return 1 if total.misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
