"""A brute-force geodesic oracle, independent of the engine.

Built on nothing but ``pyproj.Geod`` (GeographicLib) and numpy: no shapely, no frames, no code
from ``parley.geo``. It is slow and simple on purpose:

- distance from a point to a geodesic edge: sample the edge, then golden-section search around
  the best sample (the distance along a short geodesic has a single minimum);
- inside a polygon: even-odd ray casting on the rings densified every 200 m along their
  geodesics, where a straight piece in degrees strays from the geodesic by under a millimetre
  (200^2 tan(latitude) / 8R);
- two boundaries cross: the same densified pieces tested pairwise.

A shape is a core (point, line, polygons with holes) plus a buffer; two shapes meet when the
distance between their cores is at most the sum of their buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass
class Shape:
    kind: str  # "point" | "line" | "polygon"
    #: point: [[(1, 2)]]; line: [[(n, 2)]]; polygon: [[exterior, *holes], ...] closed rings
    parts: list[list[np.ndarray]]
    buffer: float
    _dense: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def edges(self) -> np.ndarray:
        rows = [np.column_stack((r[:-1], r[1:])) for p in self.parts for r in p if len(r) > 1]
        return np.concatenate(rows) if rows else np.zeros((0, 4))

    @property
    def vertices(self) -> np.ndarray:
        if self.kind == "polygon":
            return np.concatenate([r[:-1] for p in self.parts for r in p])
        return np.concatenate([r for p in self.parts for r in p])

    @property
    def ring_starts(self) -> np.ndarray:
        """The first vertex of every ring or line: with no boundary crossing, each ring lies
        wholly inside or wholly outside another shape, so these say which."""
        return np.array([r[0] for p in self.parts for r in p])

    def dense(self, spacing: float = 200.0) -> list[np.ndarray]:
        """Each ring or line with points every ``spacing`` metres along its geodesics."""
        if self._dense is None:
            self._dense = [_densify(r, spacing) for p in self.parts for r in p]
        return self._dense


def _densify(path: np.ndarray, spacing: float) -> np.ndarray:
    lon1, lat1, lon2, lat2 = path[:-1, 0], path[:-1, 1], path[1:, 0], path[1:, 1]
    az, _, length = GEOD.inv(lon1, lat1, lon2, lat2)
    n = np.maximum(1, np.ceil(np.asarray(length) / spacing)).astype(int)
    edge = np.repeat(np.arange(len(n)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    lon, lat, _ = GEOD.fwd(
        lon1[edge], lat1[edge], np.asarray(az)[edge], np.asarray(length)[edge] * k / n[edge]
    )
    return np.vstack((np.column_stack((lon, lat)), path[-1:]))


def point_edge(p: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Distance (k,) from points p (k, 2) to geodesic edges e (k, 4), to about a micrometre."""
    k = len(p)
    if k == 0:
        return np.zeros(0)
    az, _, length = GEOD.inv(e[:, 0], e[:, 1], e[:, 2], e[:, 3])
    az, length = np.asarray(az), np.asarray(length)

    def at(t: np.ndarray) -> np.ndarray:
        lon, lat, _ = GEOD.fwd(e[:, 0], e[:, 1], az, t)
        _, _, d = GEOD.inv(lon, lat, p[:, 0], p[:, 1])
        return np.asarray(d)

    samples = 16
    grid = np.linspace(0.0, 1.0, samples + 1)
    values = np.stack([at(length * g) for g in grid], axis=1)
    best = np.argmin(values, axis=1)
    lo = length * grid[np.maximum(best - 1, 0)]
    hi = length * grid[np.minimum(best + 1, samples)]
    found = values[np.arange(k), best]
    for _ in range(45):
        m1 = hi - GOLDEN * (hi - lo)
        m2 = lo + GOLDEN * (hi - lo)
        f1, f2 = at(m1), at(m2)
        left = f1 < f2
        hi = np.where(left, m2, hi)
        lo = np.where(left, lo, m1)
        found = np.minimum(found, np.minimum(f1, f2))
    return found


def nearest(p: np.ndarray, e: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """Per group, the least distance over its (point, edge) pairs.

    Pairs are pruned twice before the fine search: every point of an edge is within half its
    length of an end, and within an eighth of it of one of five samples; a pair whose distance
    to its ends (samples) minus that cannot beat its group's best end (sample) is dropped.
    """
    out = np.full(groups, np.inf)
    if len(p) == 0:
        return out
    az, _, length = GEOD.inv(e[:, 0], e[:, 1], e[:, 2], e[:, 3])
    length = np.asarray(length)
    _, _, to_a = GEOD.inv(e[:, 0], e[:, 1], p[:, 0], p[:, 1])
    _, _, to_b = GEOD.inv(e[:, 2], e[:, 3], p[:, 0], p[:, 1])
    ends = np.minimum(to_a, to_b)
    best = np.full(groups, np.inf)
    np.minimum.at(best, group, ends)
    keep = ends - length / 2.0 <= best[group]
    p, e, group, az, length = p[keep], e[keep], group[keep], np.asarray(az)[keep], length[keep]
    coarse = np.full(len(p), np.inf)
    for g in np.linspace(0.0, 1.0, 5):
        lon, lat, _ = GEOD.fwd(e[:, 0], e[:, 1], az, length * g)
        _, _, d = GEOD.inv(lon, lat, p[:, 0], p[:, 1])
        coarse = np.minimum(coarse, d)
    best = np.full(groups, np.inf)
    np.minimum.at(best, group, coarse)
    keep = coarse - length / 8.0 <= best[group]
    np.minimum.at(out, group[keep], point_edge(p[keep], e[keep]))
    return out


def inside(points: np.ndarray, shape: Shape) -> np.ndarray:
    """Even-odd ray casting (towards +longitude) against every ring, densified."""
    result = np.zeros(len(points), dtype=bool)
    if shape.kind != "polygon":
        return result
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    for ring in shape.dense():
        x1, y1 = ring[:-1, 0][None, :], ring[:-1, 1][None, :]
        x2, y2 = ring[1:, 0][None, :], ring[1:, 1][None, :]
        straddles = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        result ^= (np.sum(straddles & (cross_x > x), axis=1) % 2).astype(bool)
    return result


def boundaries_cross(a: Shape, b: Shape) -> bool:
    pa = np.concatenate([np.column_stack((r[:-1], r[1:])) for r in a.dense()])
    pb = np.concatenate([np.column_stack((r[:-1], r[1:])) for r in b.dense()])
    pa, pb = _near_box(pa, pb), _near_box(pb, pa)
    # Only pieces whose boxes overlap can cross.
    lo_a, hi_a = np.minimum(pa[:, :2], pa[:, 2:]), np.maximum(pa[:, :2], pa[:, 2:])
    lo_b, hi_b = np.minimum(pb[:, :2], pb[:, 2:]), np.maximum(pb[:, :2], pb[:, 2:])
    i, j = np.nonzero(
        np.all(lo_a[:, None, :] <= hi_b[None, :, :], axis=2)
        & np.all(lo_b[None, :, :] <= hi_a[:, None, :], axis=2)
    )
    if len(i) == 0:
        return False
    s, t = pa[i], pb[j]

    def orient(ax, ay, bx, by, cx, cy):  # type: ignore[no-untyped-def]
        return np.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))

    o1 = orient(s[:, 0], s[:, 1], s[:, 2], s[:, 3], t[:, 0], t[:, 1])
    o2 = orient(s[:, 0], s[:, 1], s[:, 2], s[:, 3], t[:, 2], t[:, 3])
    o3 = orient(t[:, 0], t[:, 1], t[:, 2], t[:, 3], s[:, 0], s[:, 1])
    o4 = orient(t[:, 0], t[:, 1], t[:, 2], t[:, 3], s[:, 2], s[:, 3])
    return bool(np.any((o1 * o2 <= 0) & (o3 * o4 <= 0) & ~((o1 == 0) & (o2 == 0))))


def _near_box(pieces: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The pieces whose boxes touch the other set's overall box."""
    lo = np.minimum(other[:, :2], other[:, 2:]).min(axis=0)
    hi = np.maximum(other[:, :2], other[:, 2:]).max(axis=0)
    p_lo = np.minimum(pieces[:, :2], pieces[:, 2:])
    p_hi = np.maximum(pieces[:, :2], pieces[:, 2:])
    return pieces[np.all(p_lo <= hi, axis=1) & np.all(p_hi >= lo, axis=1)]


def distances(pairs: list[tuple[Shape, Shape]]) -> np.ndarray:
    """Geodesic distance between the cores of each pair of shapes, metres (0 if they meet)."""
    out = np.full(len(pairs), np.inf)
    points, edges, group = [], [], []
    for i, (a, b) in enumerate(pairs):
        if a.kind != "point" and b.kind == "point":
            a, b = b, a
        if a.kind == "point" and b.kind == "point":
            p, q = a.parts[0][0][0], b.parts[0][0][0]
            out[i] = GEOD.inv(p[0], p[1], q[0], q[1])[2]
            continue
        if a.kind == "point":
            if inside(a.parts[0][0][:1], b)[0]:
                out[i] = 0.0
                continue
            sources = [(a.vertices, b)]
        elif (
            boundaries_cross(a, b)
            or (b.kind == "polygon" and inside(a.ring_starts, b).any())
            or (a.kind == "polygon" and inside(b.ring_starts, a).any())
        ):
            out[i] = 0.0
            continue
        else:
            sources = [(a.vertices, b), (b.vertices, a)]
        for v, shape in sources:
            e = shape.edges
            points.append(np.repeat(v, len(e), axis=0))
            edges.append(np.tile(e, (len(v), 1)))
            group.append(np.full(len(v) * len(e), i))
    if points:
        found = nearest(
            np.concatenate(points), np.concatenate(edges), np.concatenate(group), len(pairs)
        )
        out = np.minimum(out, found)
    return out


def distance(a: Shape, b: Shape) -> float:
    return float(distances([(a, b)])[0])


def meets(a: Shape, b: Shape) -> tuple[bool, float]:
    d = distance(a, b)
    return d <= a.buffer + b.buffer, d
