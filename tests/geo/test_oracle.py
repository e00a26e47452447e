"""The engine against the independent oracle on 10,000 random cases, and on exact touches.

A disagreement is allowed only within 0.5 m of the threshold (docs/screening.md promises
better: the engine is exact up to floating point). Distances of the hits must agree to within
the engine's own stated error plus the oracle's millimetre.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.geo import geodesy
from parley.geo.footprint import Footprint
from parley.geo.index import ScreeningIndex
from tests.geo import cases, oracle

TOLERANCE_M = 0.5
CASES = 10_000


def test_engine_agrees_with_the_oracle_on_10000_random_cases() -> None:
    workers = min(2, os.cpu_count() or 1)
    share = CASES // workers
    with ProcessPoolExecutor(workers) as pool:
        tallies = list(pool.map(cases.compare, range(1000, 1000 + workers), [share] * workers))
    total = sum(t.cases for t in tallies)
    misses = [m for t in tallies for m in t.misses]
    false_alarms = [f for t in tallies for f in t.false_alarms]
    assert total >= 10_000
    # The cases must be worth having: plenty meet, plenty do not, many are close calls.
    meetings = sum(t.meetings for t in tallies)
    assert 0.2 * total < meetings < 0.8 * total
    assert sum(t.near for t in tallies) > 0.03 * total
    for label, d, t in misses + false_alarms:
        assert abs(d - t) <= TOLERANCE_M, (label, d, t)
    assert not misses
    assert max(t.worst_distance_error_m for t in tallies) < 1e-3


def test_cases_elsewhere_on_earth() -> None:
    tally = cases.compare(7, 300)
    assert not tally.misses and not tally.false_alarms


# -- exact touches, which random placement almost never produces ------------------------------

one = np.ones(1)


def fwd(lon: float, lat: float, az: float, d: float) -> tuple[float, float]:
    x, y, _ = geodesy.forward(one * lon, one * lat, one * az, one * d)
    return float(x[0]), float(y[0])


def both(kind: str, parts: list[list[np.ndarray]], buffer: float) -> tuple[oracle.Shape, Footprint]:
    if kind == "polygon":
        return oracle.Shape(kind, parts, buffer), Footprint.polygons(parts, buffer)
    return oracle.Shape(kind, parts, buffer), Footprint.line(parts[0][0], buffer)


def engine_meets(a: Footprint, b: Footprint) -> bool:
    ix = ScreeningIndex()
    ix.add("b", cases.item(b), {"party": "p"})
    return bool(ix.screen(cases.item(a)))


@settings(max_examples=60, deadline=None)
@given(
    st.floats(35.5, 42.5),
    st.floats(32.3, 37.5),
    st.floats(50, 20_000),
    st.floats(0, 90),
    st.floats(0.05, 0.95),
)
def test_polygons_sharing_an_edge_or_a_vertex_meet(
    lon: float, lat: float, size: float, turn: float, f: float
) -> None:
    """Two squares-ish sharing an edge, or touching at one vertex, are at distance 0."""
    a0 = (lon, lat)
    a1 = fwd(*a0, turn, size)
    a2 = fwd(*a1, turn + 90, size)
    a3 = fwd(*a0, turn + 90, size)
    left = np.array([a0, a1, a2, a3, a0])
    b1 = fwd(*a1, turn, size)
    b2 = fwd(*b1, turn + 90, size)
    right = np.array([a1, b1, b2, a2, a1])  # shares the edge a1-a2
    corner = np.array([a2, fwd(*a2, turn + 45, size), fwd(*a2, turn + 80, size), a2])  # touches a2
    for other in (right, corner):
        sa, fa = both("polygon", [[left]], 0.0)
        sb, fb = both("polygon", [[other]], 0.0)
        assert oracle.distance(sa, sb) < 1e-3
        assert engine_meets(fa, fb) and engine_meets(fb, fa)
    # A route ending exactly on an edge, with the thinnest corridor.
    on_edge = fwd(*a1, turn + 90, f * size)
    route = np.array([fwd(*on_edge, turn, size), on_edge])
    sa, fa = both("polygon", [[left]], 0.0)
    sr, fr = both("line", [[route]], 1.0)
    assert oracle.distance(sa, sr) < 1e-3
    assert engine_meets(fr, fa) and engine_meets(fa, fr)
