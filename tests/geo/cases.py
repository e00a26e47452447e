"""Random screening cases, each built twice: for the engine and for the oracle.

Shared by tests/geo/test_oracle.py and bench/screening_oracle.py. A case is two footprints,
``a`` (the query) and ``b`` (in the index), placed so that about half of them meet and many are
within a few metres of meeting. Nothing here uses the engine's geometry: the coordinates come
from ``pyproj.Geod`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from pyproj import Geod

from parley.geo.footprint import Footprint
from parley.geo.index import ScreeningIndex
from parley.geo.shapes import Band, Volume, Window
from tests.geo import oracle

GEOD = Geod(ellps="WGS84")
SYRIA = (35.0, 31.8, 43.0, 38.0)
KINDS = ("circle", "point-site", "polygon", "holed", "poly-site", "multi", "line")
WHEN = Window(datetime(2026, 11, 26, 8, tzinfo=UTC), datetime(2026, 11, 26, 9, tzinfo=UTC))
HIGH = Band(0.0, 3000.0)


@dataclass
class Case:
    label: str
    a: oracle.Shape
    b: oracle.Shape
    a_fp: Footprint
    b_fp: Footprint

    @property
    def threshold(self) -> float:
        return self.a.buffer + self.b.buffer


def item(fp: Footprint) -> Volume:
    """Any item will do for geometry; a volume in force now, over the whole band."""
    return Volume(fp, HIGH, WHEN)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _star(
    rng: np.random.Generator, lon: float, lat: float, r: float, lo: float, n: int
) -> np.ndarray:
    """A star-shaped ring around a centre: simple, with angular gaps under 100 degrees."""
    base = rng.uniform(0, 360)
    az = base + 360.0 * (np.arange(n) + rng.uniform(0, 0.6, n)) / n
    dist = r * rng.uniform(lo, 1.0, n)
    x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, dist)
    ring = np.column_stack((x, y))
    return np.vstack((ring, ring[:1]))


def _shape(
    rng: np.random.Generator, kind: str, lon: float, lat: float
) -> tuple[oracle.Shape, Callable[[], Footprint]]:
    """The oracle's shape, and how to build the engine's footprint of it (only when needed)."""
    if kind in ("circle", "point-site"):
        r = _loguniform(rng, 1.0, 28_000.0 if kind == "circle" else 5_000.0)
        pt = np.array([[lon, lat]])
        return oracle.Shape("point", [[pt]], r), lambda: Footprint.point(lon, lat, r)
    if kind == "line":
        n = int(rng.integers(2, 8))
        az = rng.uniform(0, 360) + np.cumsum(rng.uniform(-70, 70, n - 1))
        step = np.array([_loguniform(rng, 100.0, 20_000.0) for _ in range(n - 1)])
        pts = [(lon, lat)]
        for a, s in zip(az, step, strict=True):
            x, y, _ = GEOD.fwd(pts[-1][0], pts[-1][1], a, s)
            pts.append((x, y))
        line = np.array(pts)
        half = _loguniform(rng, 1.0, 3_000.0)
        return oracle.Shape("line", [[line]], half), lambda: Footprint.line(line, half)
    r = _loguniform(rng, 30.0, 25_000.0)
    buffer = _loguniform(rng, 1.0, 2_000.0) if kind == "poly-site" and rng.random() < 0.7 else 0.0
    n = int(rng.integers(6, 14))
    if kind == "multi":
        x, y, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), 3.0 * r)
        parts = [[_star(rng, lon, lat, r, 0.35, n)], [_star(rng, float(x), float(y), r, 0.35, n)]]
    elif kind == "holed":
        outer = _star(rng, lon, lat, r, 0.6, n)
        parts = [[outer, _star(rng, lon, lat, 0.3 * r, 0.4, n)]]
    else:
        parts = [[_star(rng, lon, lat, r, 0.35, n)]]
    return oracle.Shape("polygon", parts, buffer), lambda: Footprint.polygons(parts, buffer)


def _reach(shape: oracle.Shape, lon: float, lat: float) -> float:
    v = shape.vertices
    _, _, d = GEOD.inv(np.full(len(v), lon), np.full(len(v), lat), v[:, 0], v[:, 1])
    return float(np.max(d))


def random_case(rng: np.random.Generator, elsewhere: bool = False) -> Case:
    if elsewhere:
        lon, lat = rng.uniform(-170, 170), rng.uniform(-75, 75)
    else:
        lon, lat = rng.uniform(SYRIA[0], SYRIA[2]), rng.uniform(SYRIA[1], SYRIA[3])
    kb, ka = str(rng.choice(KINDS)), str(rng.choice(KINDS))
    b, b_fp = _shape(rng, kb, lon, lat)
    # Aim the query's centre so that its distance to b straddles the threshold.
    a_probe, _ = _shape(np.random.default_rng(rng.integers(1 << 62)), ka, lon, lat)
    reach = _reach(b, lon, lat) + _reach(a_probe, lon, lat) + a_probe.buffer + b.buffer
    if rng.random() < 0.5:
        dist = rng.uniform(0.0, 1.2) * reach
    else:
        dist = reach * (1 + rng.normal(0, 0.02))
    x, y, _ = GEOD.fwd(lon, lat, rng.uniform(0, 360), max(0.0, dist))
    a, a_fp = _shape(rng, ka, float(x), float(y))
    return Case(f"{ka}->{kb}", a, b, a_fp(), b_fp())


def cases(seed: int, n: int, elsewhere_every: int = 20) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [random_case(rng, elsewhere=(i % elsewhere_every == 0)) for i in range(n)]


@dataclass
class Tally:
    cases: int = 0
    meetings: int = 0
    near: int = 0  # within a metre of the threshold
    misses: list[tuple[str, float, float]] = field(default_factory=list)
    false_alarms: list[tuple[str, float, float]] = field(default_factory=list)
    #: Beyond the engine's own stated error bound, over the cases where both say they meet.
    worst_distance_error_m: float = 0.0

    @property
    def worst_disagreement_m(self) -> float:
        """How far from the threshold the worst disagreement was (0 if none)."""
        return max((abs(d - t) for _, d, t in self.misses + self.false_alarms), default=0.0)

    def add(self, other: Tally) -> None:
        self.cases += other.cases
        self.meetings += other.meetings
        self.near += other.near
        self.misses += other.misses
        self.false_alarms += other.false_alarms
        self.worst_distance_error_m = max(self.worst_distance_error_m, other.worst_distance_error_m)


def compare(seed: int, n: int) -> Tally:
    """Engine and oracle on ``n`` cases from ``seed``; half go through a packed tree."""
    batch = cases(seed, n)
    tally = Tally(cases=n)
    engine = []
    for i, case in enumerate(batch):
        ix = ScreeningIndex()
        ix.add("b", item(case.b_fp), {"party": "p"})
        if i % 2:
            ix.flush()
        engine.append(ix.screen(item(case.a_fp)))
    truth = oracle.distances([(c.a, c.b) for c in batch])
    for case, hits, d in zip(batch, engine, truth, strict=True):
        t = case.threshold
        meets = bool(d <= t)
        tally.meetings += meets
        tally.near += bool(abs(d - t) < 1.0)
        if meets and not hits:
            tally.misses.append((case.label, float(d), t))
        elif hits and not meets:
            tally.false_alarms.append((case.label, float(d), t))
        if hits and meets:
            error = abs(hits[0].distance_m - d) - hits[0].error_m
            tally.worst_distance_error_m = max(tally.worst_distance_error_m, float(error))
    return tally
