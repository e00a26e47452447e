"""Screening benchmark: parley's engine against three baselines, on the same data, in one run.

Data (seeded, synthetic, built around real places; see bench/README.md, "Screening"):

- protected sites at each size (10k, 100k, 1M by default): each placed near a real populated
  place from ../shared/data/places.csv, chosen with probability growing with its population,
  scattered further for larger places; radius uniform in 100-2,000 m. These are NOT real
  hospitals or schools: none are public for Syria.
- active operation volumes (100k): 60 % circles (radius 300 m-5 km), 40 % star-shaped polygons
  (5-12 vertices, 0.5-5 km across), 70 % uniform over lon 35-43, lat 31.8-38 and 30 % near a
  place; time windows within one day; altitude bands within 0-8,000 m.
- area rules (10k): star-shaped polygons 2-20 km across, 8-40 vertices: 40 % no-fly for one of
  three parties, 20 % no-operations, 40 % delineation.
- the volumes screened: a separate draw from the active volumes' distribution.

Measured per screened volume, one core, wall clock:

- engine, sites only: ScreeningIndex.screen(volume) on an index holding only the sites;
- engine, everything: screening.screen_operation() (rules included) with sites, areas and the
  active volumes all in the index;
- baseline 1, naive: shapely.distance from the volume to every site, in a projected CRS
  (azimuthal equidistant centred on the region), then compared with the radii;
- baseline 2, STRtree: shapely STRtree.query(predicate="dwithin", distance=2 km + radius) in
  the same CRS, then shapely.distance on the candidates;
- baseline 3, PostGIS: ST_DWithin on geography with a GiST index, one query per volume, from
  PARLEY_BENCH_POSTGRES_URL (skipped, saying so, when unset).

Baselines find sites, so they are compared with "engine, sites only"; their hit sets are also
checked against the engine's, which agrees with the geodesic oracle (tests/geo/test_oracle.py).

    .venv/bin/python bench/screening.py                      # 10k, 100k, 1M sites
    .venv/bin/python bench/screening.py --sizes 10000 --volumes 500 --active 10000 --areas 1000
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from rich.console import Console
from rich.table import Table

from parley.geo.footprint import Footprint
from parley.geo.index import Hit, Meta, ScreeningIndex
from parley.geo.screening import Conflict, add_operation, screen_operation
from parley.geo.shapes import Area, Band, Site, Volume, Window

GEOD = Geod(ellps="WGS84")
PLACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "places.csv"
REGION = (35.0, 31.8, 43.0, 38.0)
DAY = datetime(2026, 11, 26, tzinfo=UTC)
PARTIES = ("party-a", "party-b", "party-c")
MAX_SITE_RADIUS = 2_000.0
#: The baselines' flat world: azimuthal equidistant centred on the region.
PROJECTED = "+proj=aeqd +lat_0=34.9 +lon_0=39 +datum=WGS84 +units=m"

console = Console(width=180)
ENGINE = "engine, sites only"


# -- data -------------------------------------------------------------------------------------


@dataclass
class Places:
    lon: np.ndarray
    lat: np.ndarray
    population: np.ndarray

    @classmethod
    def load(cls, path: Path = PLACES) -> Places:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return cls(
            np.array([float(r["longitude"]) for r in rows]),
            np.array([float(r["latitude"]) for r in rows]),
            np.array([float(r["population"] or 0) for r in rows]),
        )


@dataclass
class Sites:
    lon: np.ndarray
    lat: np.ndarray
    radius: np.ndarray

    def __len__(self) -> int:
        return len(self.lon)


def scatter(
    rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points around centres, Rayleigh-distributed distance with scale sigma (metres)."""
    distance = sigma * np.sqrt(-2.0 * np.log(rng.uniform(1e-12, 1.0, len(lon))))
    x, y, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360, len(lon)), distance)
    x, y = np.asarray(x), np.asarray(y)
    keep = (x > REGION[0]) & (x < REGION[2]) & (y > REGION[1]) & (y < REGION[3])
    return np.where(keep, x, lon), np.where(keep, y, lat)


def make_sites(places: Places, n: int, seed: int) -> Sites:
    """More sites where more people live; a city's sites spread over a city-sized area."""
    rng = np.random.default_rng(seed)
    weight = places.population + 1_000.0
    pick = rng.choice(len(weight), size=n, p=weight / weight.sum())
    sigma = 300.0 + 3.0 * np.sqrt(places.population[pick])
    lon, lat = scatter(rng, places.lon[pick], places.lat[pick], sigma)
    return Sites(lon, lat, rng.uniform(100.0, MAX_SITE_RADIUS, n))


def star(rng: np.random.Generator, lon: float, lat: float, radius: float, n: int) -> np.ndarray:
    az = rng.uniform(0, 360) + 360.0 * (np.arange(n) + rng.uniform(0, 0.6, n)) / n
    x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, radius * rng.uniform(0.4, 1.0, n))
    ring = np.column_stack((x, y))
    return np.vstack((ring, ring[:1]))


def make_volumes(places: Places, n: int, seed: int) -> list[Volume]:
    rng = np.random.default_rng(seed)
    near = rng.random(n) < 0.3
    pick = rng.integers(0, len(places.lon), n)
    lon = np.where(near, places.lon[pick], rng.uniform(REGION[0], REGION[2], n))
    lat = np.where(near, places.lat[pick], rng.uniform(REGION[1], REGION[3], n))
    lon, lat = scatter(rng, lon, lat, np.where(near, 5_000.0, 0.0))
    out = []
    for i in range(n):
        start = DAY + timedelta(minutes=float(rng.uniform(0, 24 * 60)))
        window = Window(start, start + timedelta(minutes=float(rng.uniform(30, 240))))
        lower = float(rng.uniform(0, 3_000))
        band = Band(lower, lower + float(rng.uniform(500, 5_000)))
        if rng.random() < 0.6:
            r = float(np.exp(rng.uniform(np.log(300), np.log(5_000))))
            fp = Footprint.point(float(lon[i]), float(lat[i]), r)
        else:
            r = float(np.exp(rng.uniform(np.log(250), np.log(2_500))))
            ring = star(rng, float(lon[i]), float(lat[i]), r, int(rng.integers(5, 13)))
            fp = Footprint.polygons([[ring]], 0.0)
        out.append(Volume(fp, band, window))
    return out


def make_areas(n: int, seed: int) -> list[Area]:
    rng = np.random.default_rng(seed)
    out = []
    valid = Window(DAY - timedelta(days=30), None)
    for _ in range(n):
        lon, lat = rng.uniform(REGION[0], REGION[2]), rng.uniform(REGION[1], REGION[3])
        ring = star(rng, lon, lat, float(rng.uniform(1_000, 10_000)), int(rng.integers(8, 41)))
        roll = rng.random()
        if roll < 0.4:
            rule, party, group = "no-fly", str(rng.choice(PARTIES)), None
        elif roll < 0.6:
            rule, party, group = "no-operations", None, None
        else:
            rule, party, group = "delineation", None, "G"
        fp = Footprint.polygons([[ring]], 0.0)
        out.append(Area(rule, party, group, fp, Band(-500.0, float("inf")), valid))  # type: ignore[arg-type]
    return out


def site_items(sites: Sites) -> Iterable[tuple[str, Site, Meta]]:
    valid = Window(DAY - timedelta(days=365), None)
    band = Band(-500.0, 3_000.0)
    meta: Meta = {"party": "notifier"}
    for i in range(len(sites)):
        fp = Footprint.point(float(sites.lon[i]), float(sites.lat[i]), float(sites.radius[i]))
        yield f"site-{i}", Site("hospital", f"site {i}", fp, band, valid), meta


# -- timing -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One method at one size: latencies per round (the same volumes each round)."""

    method: str
    size: int
    rounds: list[list[float]] = field(default_factory=list)
    hits: list[set[int]] = field(default_factory=list)
    note: str = ""
    disagreements: int | None = None

    def over_rounds(self, stat: Callable[[list[float]], float]) -> float:
        """The median over rounds of a per-round statistic: robust to a noisy machine."""
        return statistics.median(stat(r) for r in self.rounds)

    @property
    def volumes(self) -> int:
        return len(self.rounds[0]) if self.rounds else 0

    @property
    def p50_ms(self) -> float:
        return self.over_rounds(statistics.median) * 1e3

    @property
    def p99_ms(self) -> float:
        return self.over_rounds(lambda r: float(np.percentile(r, 99))) * 1e3

    @property
    def per_second(self) -> float:
        return self.over_rounds(lambda r: len(r) / sum(r))

    def p50_of_first_ms(self, n: int) -> float:
        return self.over_rounds(lambda r: statistics.median(r[:n])) * 1e3

    @property
    def mean_hits(self) -> float:
        return float(np.mean([len(h) for h in self.hits])) if self.hits else float("nan")


def fresh(volumes: list[Volume]) -> list[Volume]:
    """The same volumes with nothing cached: a footprint draws its own frame and picture the
    first time it is screened, and every round must pay for that as a new volume would."""
    return [Volume(replace(v.footprint), v.altitude, v.window) for v in volumes]


def timed(
    run: Run,
    volumes: list[Volume],
    screen: Callable[[Volume], Any],
    rounds: int,
    found: Callable[[Any], set[int]] | None = None,
) -> Run:
    """Time each call, ``rounds`` times over. What was built before is frozen out of the
    collector's way, as a server should do after loading (gc.freeze); the collector stays on
    for what the calls allocate. ``found`` turns the first round's answers into site numbers,
    after the clock stops."""
    answers = []
    for v in fresh(volumes[:200]):  # warm up: CPU caches, prepared statements
        screen(v)
    gc.collect()
    gc.freeze()
    try:
        for round_ in range(rounds):
            latencies = []
            for v in fresh(volumes):
                t = time.perf_counter()
                answer = screen(v)
                latencies.append(time.perf_counter() - t)
                if round_ == 0:
                    answers.append(answer)
            run.rounds.append(latencies)
            if round_ == 0 and found is not None:
                run.hits = [found(a) for a in answers]
            answers = []
    finally:
        gc.unfreeze()
    return run


def site_number(key: str) -> int:
    return int(key.removeprefix("site-"))


# -- baselines ----------------------------------------------------------------------------------


class Flat:
    """Sites as shapely points in the projected CRS, shared by baselines 1 and 2."""

    def __init__(self, sites: Sites) -> None:
        self.to_plane = Transformer.from_crs("EPSG:4326", PROJECTED, always_xy=True)
        x, y = self.to_plane.transform(sites.lon, sites.lat)
        self.points = shapely.points(np.column_stack((x, y)))
        self.radius = sites.radius
        self.tree = shapely.STRtree(self.points)

    def footprint(self, v: Volume) -> tuple[shapely.Geometry, float]:
        fp = v.footprint
        if fp.kind == "point":
            x, y = self.to_plane.transform(*fp.centre)
            return shapely.Point(x, y), fp.buffer_m
        ring = fp.parts[0][0]
        x, y = self.to_plane.transform(ring[:, 0], ring[:, 1])
        return shapely.Polygon(np.column_stack((x, y))), 0.0

    def naive(self, v: Volume) -> set[int]:
        geom, r = self.footprint(v)
        d = shapely.distance(geom, self.points)
        return set(np.flatnonzero(d <= self.radius + r).tolist())

    def strtree(self, v: Volume) -> set[int]:
        geom, r = self.footprint(v)
        idx = self.tree.query(geom, predicate="dwithin", distance=MAX_SITE_RADIUS + r)
        d = shapely.distance(geom, self.points[idx])
        return set(idx[d <= self.radius[idx] + r].tolist())


class PostGIS:
    """Sites in a geography column with a GiST index; ST_DWithin per volume."""

    def __init__(self, url: str, sites: Sites) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        with self.conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("DROP TABLE IF EXISTS bench_sites")
            cur.execute(
                "CREATE TABLE bench_sites "
                "(id integer, radius_m double precision, geog geography(Point, 4326))"
            )
            with cur.copy("COPY bench_sites (id, radius_m, geog) FROM STDIN") as copy:
                for i in range(len(sites)):
                    point = f"SRID=4326;POINT({float(sites.lon[i])!r} {float(sites.lat[i])!r})"
                    copy.write_row((i, float(sites.radius[i]), point))
            cur.execute("CREATE INDEX ON bench_sites USING gist (geog)")
            cur.execute("ANALYZE bench_sites")

    def query(self, v: Volume) -> set[int]:
        fp = v.footprint
        if fp.kind == "point":
            wkt, r = f"SRID=4326;POINT({fp.centre[0]!r} {fp.centre[1]!r})", fp.buffer_m
        else:
            ring = ", ".join(f"{x!r} {y!r}" for x, y in fp.parts[0][0].tolist())
            wkt, r = f"SRID=4326;POLYGON(({ring}))", 0.0
        # The index needs one constant distance: the largest radius; each row's own radius next.
        sql = (
            "SELECT id FROM bench_sites, (SELECT %(g)s::geography AS g) q "
            "WHERE ST_DWithin(geog, q.g, %(far)s) AND ST_DWithin(geog, q.g, radius_m + %(r)s)"
        )
        with self.conn.cursor() as cur:
            cur.execute(sql, {"g": wkt, "far": MAX_SITE_RADIUS + r, "r": r}, prepare=True)
            return {row[0] for row in cur.fetchall()}

    def close(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_sites")
        self.conn.close()


def disagreement(run: Run, truth: Run) -> int:
    return sum(len(a ^ b) for a, b in zip(run.hits, truth.hits, strict=False))


# -- the run ------------------------------------------------------------------------------------


def bench_size(
    size: int,
    places: Places,
    queries: list[Volume],
    active: list[Volume],
    areas: list[Area],
    args: argparse.Namespace,
) -> list[Run]:
    runs: list[Run] = []
    console.print(f"[bold]{size:,} sites[/bold]: generating and indexing")
    sites = make_sites(places, size, seed=args.seed + size)
    index = ScreeningIndex()
    t = time.perf_counter()
    index.add_many(site_items(sites))
    console.print(f"  engine index of {size:,} sites built in {time.perf_counter() - t:.1f} s")

    def sites_of(hits: list[Hit]) -> set[int]:
        return {site_number(h.key) for h in hits}

    engine = timed(Run(ENGINE, size), queries, index.screen, args.rounds, sites_of)
    runs.append(engine)

    few = queries[: args.naive_volumes]
    if size >= 1_000_000:
        few = queries[: max(20, args.naive_volumes // 10)]
    some = queries[: args.baseline_volumes]
    flat = Flat(sites)
    naive = timed(
        Run("naive shapely.distance", size, note="fewer"), few, flat.naive, args.rounds, set
    )
    naive.disagreements = disagreement(naive, engine)
    runs.append(naive)
    tree = timed(Run("shapely STRtree dwithin", size), some, flat.strtree, args.rounds, set)
    tree.disagreements = disagreement(tree, engine)
    runs.append(tree)
    del flat

    url = os.environ.get("PARLEY_BENCH_POSTGRES_URL")
    if url and not args.no_postgres:
        t = time.perf_counter()
        pg = PostGIS(url, sites)
        console.print(
            f"  PostGIS table of {size:,} sites loaded in {time.perf_counter() - t:.1f} s"
        )
        try:
            post = timed(
                Run("PostGIS ST_DWithin geography", size), some, pg.query, args.rounds, set
            )
            post.disagreements = disagreement(post, engine)
            runs.append(post)
        finally:
            pg.close()
    else:
        why = "--no-postgres" if args.no_postgres else "PARLEY_BENCH_POSTGRES_URL is unset"
        runs.append(Run("PostGIS ST_DWithin geography", size, note=f"skipped: {why}"))

    # Everything in force: the sites, area rules and the other parties' operations.
    t = time.perf_counter()
    for i, area in enumerate(areas):
        index.add(f"area-{i}", area, {"party": "co-chair"})
    for i, volume in enumerate(active):
        add_operation(index, f"op-{i}", PARTIES[i % 3], [volume])
    index.flush()
    took = time.perf_counter() - t
    console.print(f"  + {len(areas):,} areas and {len(active):,} active volumes in {took:.1f} s")

    counter = itertools.count()

    def engine_all(v: Volume) -> list[Conflict]:
        i = next(counter)
        return screen_operation(index, f"new-{i}", PARTIES[i % 3], [v])

    runs.append(timed(Run("engine, everything (rules)", size), queries, engine_all, args.rounds))
    return runs


def table(runs: list[Run]) -> Table:
    t = Table(title="Screening one volume against N protected sites (one core, per volume)")
    columns = ("sites", "method", "volumes", "volumes/s", "p50 ms", "p99 ms")
    columns += ("engine p50, same", "p50 ratio", "mean ratio", "hits/vol", "differs")
    for column in columns:
        t.add_column(column, justify="left" if column == "method" else "right")
    engine = {run.size: run for run in runs if run.method == ENGINE}
    for run in runs:
        if not run.rounds:
            t.add_row(f"{run.size:,}", run.method, *["-"] * 8, run.note)
            continue
        base = engine[run.size]
        n = run.volumes
        same_p50 = base.p50_of_first_ms(n)
        same_mean = base.over_rounds(lambda r, n=n: statistics.fmean(r[:n]))
        t.add_row(
            f"{run.size:,}",
            run.method,
            f"{n:,}" + (f" ({run.note})" if run.note else ""),
            f"{run.per_second:,.0f}",
            f"{run.p50_ms:.3f}",
            f"{run.p99_ms:.3f}",
            f"{same_p50:.3f}",
            f"{run.p50_ms / same_p50:.1f}x",
            f"{run.over_rounds(statistics.fmean) / same_mean:.1f}x",
            f"{run.mean_hits:.1f}" if run.hits else "-",
            "-" if run.disagreements is None else f"{run.disagreements}",
        )
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="site counts, comma-separated"
    )
    parser.add_argument("--volumes", type=int, default=5_000, help="volumes screened per size")
    parser.add_argument("--active", type=int, default=100_000, help="operation volumes in force")
    parser.add_argument("--areas", type=int, default=10_000, help="area rules in force")
    parser.add_argument(
        "--baseline-volumes", type=int, default=1_000, help="volumes for STRtree and PostGIS"
    )
    parser.add_argument(
        "--naive-volumes", type=int, default=200, help="volumes for the naive scan (1/10 at 1M)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; medians reported")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip PostGIS even if configured"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    started_load = os.getloadavg()[0]
    places = Places.load()
    console.print(
        f"{len(places.lon):,} places from {PLACES.name} (GeoNames, CC BY 4.0); sites are synthetic"
    )
    t = time.perf_counter()
    queries = make_volumes(places, args.volumes, seed=args.seed)
    active = make_volumes(places, args.active, seed=args.seed + 1)
    areas = make_areas(args.areas, seed=args.seed + 2)
    took = time.perf_counter() - t
    console.print(
        f"{len(queries):,} volumes to screen, {len(active):,} active, {len(areas):,} areas "
        f"generated in {took:.1f} s"
    )
    runs: list[Run] = []
    for size in sizes:
        runs.extend(bench_size(size, places, queries, active, areas, args))
        gc.collect()
    console.print(table(runs))
    console.print(
        f"Medians over {args.rounds} rounds of: volumes/s = volumes / summed latency (one core), "
        "and per-volume p50 and p99. Baselines run on the first volumes of "
        "the same list; 'engine p50, same' is the engine's median over exactly those volumes; "
        "'p50 ratio' and 'mean ratio' are the method's median and mean latency over the "
        "engine's on them (above 1: the engine is faster). differs: sites found by one and not "
        "the other, summed over those volumes (the engine agrees with the geodesic oracle). "
        "'engine, everything' also holds the areas and active volumes and applies the rules."
    )
    console.print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), {os.cpu_count()} CPUs; load average at start "
        f"{started_load:.1f}, at end {os.getloadavg()[0]:.1f} (other work on the machine)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
