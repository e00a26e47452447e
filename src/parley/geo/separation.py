"""Do two footprints meet? The exact step of screening, vectorised over candidates.

Each candidate is first measured in the query's frame, a flat picture where shapely and numpy
are fast. :mod:`parley.geo.geodesy` bounds the picture's error, so most candidates are settled
there for certain: a sure meeting or a sure miss. The few whose planar distance falls inside
the error band are measured again exactly with GeographicLib geodesics. The answer is the same
as an exact computation's, up to :data:`EPS` of floating-point slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from parley.geo import geodesy
from parley.geo.footprint import Footprint, pictures
from parley.geo.geodesy import Array

#: Slack in metres for floating point: when an exact distance is compared with a threshold
#: (GeographicLib is good to about 15 nm), and before a planar distance rules a candidate out
#: (ECEF coordinates near 6.4e6 m carry about 1e-9 m of rounding). A micrometre keeps "exactly
#: touching" a meeting.
EPS = 1e-6

#: Largest (points x pieces) block measured in one numpy pass.
_BLOCK = 200_000


@dataclass(frozen=True)
class Measures:
    """Per candidate: whether it meets the query, the core-to-core distance, its error bound."""

    meets: np.ndarray
    distance_m: Array
    error_m: Array


def measure_points(query: Footprint, lonlat: Array, xyz: Array, buffers: Array) -> Measures:
    """Point candidates (circles, point sites) against one query footprint.

    ``lonlat`` (k, 2) and ``xyz`` (k, 3) are the candidates' centres, ``buffers`` their radii.
    """
    xy = query.frame.project(xyz)
    d2 = planar_distance_to_points(query, xy)
    limit = query.buffer_m + buffers
    sag = query.sag_m
    c = geodesy.contraction(query.extent_m + 2 * limit + 2 * sag + 1.0)
    upper = (d2 + sag) / c
    lower = d2 - sag - EPS
    meets = upper <= limit
    unsure = ~meets & (lower <= limit)
    distance = d2.copy()
    error = np.maximum(upper - d2, sag)
    if unsure.any():
        exact = point_distances(lonlat[unsure, 0], lonlat[unsure, 1], query)
        meets[unsure] = exact <= limit[unsure] + EPS
        distance[unsure] = exact
        error[unsure] = 0.0
    return Measures(meets, distance, error)


def planar_distance_to_points(query: Footprint, xy: Array) -> Array:
    """Planar distance from each point to the query's core in the query's own frame."""
    if query.kind == "point":
        return np.hypot(xy[:, 0], xy[:, 1])
    a, b = query.own_pieces
    out = np.empty(len(xy))
    rows = max(1, _BLOCK // max(1, len(a)))
    for i in range(0, len(xy), rows):
        out[i : i + rows] = _point_segment_distance(xy[i : i + rows], a, b)
    if query.kind == "polygon" and len(xy):
        inside = shapely.contains_xy(query.planar, xy[:, 0], xy[:, 1])
        out[inside] = 0.0
    return out


def _point_segment_distance(p: Array, a: Array, b: Array) -> Array:
    """Planar distance (k,) from each point to the nearest of the segments a-b."""
    d = b - a
    length2 = np.einsum("ij,ij->i", d, d)
    length2[length2 == 0] = 1.0
    px = p[:, None, 0] - a[None, :, 0]
    py = p[:, None, 1] - a[None, :, 1]
    t = np.clip((px * d[None, :, 0] + py * d[None, :, 1]) / length2[None, :], 0.0, 1.0)
    qx = px - t * d[None, :, 0]
    qy = py - t * d[None, :, 1]
    return np.asarray(np.sqrt(np.min(qx * qx + qy * qy, axis=1)), dtype=np.float64)


def measure_shapes(
    query: Footprint, candidates: Sequence[Footprint], buffers: Array | None = None
) -> Measures:
    """Line and polygon candidates (areas, routes, polygon footprints) against one query.

    ``buffers`` replaces the candidates' own buffers (zeros: do their cores come within the
    query's buffer).
    """
    n = len(candidates)
    if n == 0:
        empty = np.zeros(0)
        return Measures(np.zeros(0, dtype=bool), empty, empty)
    drawn, xys = pictures(candidates, query.frame)
    d2 = np.asarray(shapely.distance(query.planar, drawn), dtype=np.float64)
    if buffers is None:
        buffers = np.array([c.buffer_m for c in candidates])
    limit = query.buffer_m + buffers
    step = np.array([c.step_m for c in candidates])
    reach = query.extent_m + 2 * limit + 2 * step + 1.0
    own_sag = geodesy.sagitta(reach, step)
    sag = query.sag_m + own_sag
    c = geodesy.contraction(reach + 2 * sag)
    upper = (d2 + sag) / c
    meets = upper <= limit
    unsure = ~meets & (d2 - sag - EPS <= limit)
    distance = d2.copy()
    error = np.maximum(upper - d2, sag)
    for i in map(int, np.flatnonzero(unsure)):
        cand = candidates[i]
        if d2[i] == 0.0 and _deep_overlap(query, cand, drawn[i], xys[i], float(own_sag[i])):
            meets[i], distance[i], error[i] = True, 0.0, 0.0
            continue
        exact = exact_distance(query, cand, upper=float(upper[i]) + 1.0)
        meets[i], distance[i], error[i] = exact <= limit[i] + EPS, exact, 0.0
    return Measures(meets, distance, error)


def _deep_overlap(
    query: Footprint, cand: Footprint, picture: shapely.Geometry, xy: Array, cand_sag: float
) -> bool:
    """Whether a vertex of one lies inside the other's picture by more than its error.

    Vertices are exact points of the ellipsoid, so their images carry no edge error; only the
    containing side's straight pieces do, and its sagitta bounds that.
    """
    if cand.kind == "polygon":
        v = query.own_xy[query.vertex_dense]
        inside = shapely.contains_xy(picture, v[:, 0], v[:, 1])
        if inside.any():
            a, b = cand.pieces(xy)
            depth = _point_segment_distance(v[inside], a, b)
            # The nearest piece may lie beyond the reach cand_sag was computed for: bound its
            # error where it can be, ``depth`` further out.
            far = geodesy.sagitta(query.extent_m + depth + cand.step_m, cand.step_m)
            if bool(np.any(depth > np.maximum(far, cand_sag))):
                return True
    if query.kind == "polygon":
        v = xy[cand.vertex_dense]
        inside = shapely.contains_xy(query.planar, v[:, 0], v[:, 1])
        if inside.any():
            a, b = query.own_pieces
            if bool(np.any(_point_segment_distance(v[inside], a, b) > query.sag_m)):
                return True
    return False


# -- exact ------------------------------------------------------------------------------------


def point_distances(lon: Array, lat: Array, shape: Footprint) -> Array:
    """Exact geodesic distance from each point to the core of ``shape`` (0 inside a polygon)."""
    k = len(lon)
    if shape.kind == "point":
        clon, clat = shape.centre
        return geodesy.distance(np.full(k, clon), np.full(k, clat), lon, lat)
    edges = shape.edges
    m = len(edges)
    plon = np.repeat(lon, m)
    plat = np.repeat(lat, m)
    tiled = np.tile(edges, (k, 1))
    d, fraction = geodesy.edge_distance(
        plon, plat, tiled[:, 0], tiled[:, 1], tiled[:, 2], tiled[:, 3]
    )
    d = d.reshape(k, m)
    fraction = fraction.reshape(k, m)
    nearest = np.argmin(d, axis=1)
    best: Array = d[np.arange(k), nearest]
    if shape.kind == "polygon":
        inside = _inside(lon, lat, shape, nearest, fraction[np.arange(k), nearest], best)
        best[inside] = 0.0
    return best


def _inside(
    lon: Array, lat: Array, shape: Footprint, edge: np.ndarray, fraction: Array, d: Array
) -> np.ndarray:
    """Exact point-in-polygon from the nearest boundary point (interior is left of every edge).

    The geodesic from P to its nearest boundary point crosses no edge, so P lies on the side of
    that edge (or inside the corner's wedge, when the nearest point is a vertex) that it faces.
    """
    edges = shape.edges
    nxt = shape.edge_next
    prev = np.empty_like(nxt)
    prev[nxt] = np.arange(len(nxt))
    at_start = fraction <= 0.0
    at_end = fraction >= 1.0
    into = np.where(at_start, prev[edge], edge)  # the edge arriving at the corner
    out = np.where(at_end, nxt[edge], edge)  # the edge leaving it
    e_in, e_out = edges[into], edges[out]
    left_in = geodesy.side(lon, lat, e_in[:, 0], e_in[:, 1], e_in[:, 2], e_in[:, 3]) < 0
    left_out = geodesy.side(lon, lat, e_out[:, 0], e_out[:, 1], e_out[:, 2], e_out[:, 3]) < 0
    turn = geodesy.side(e_out[:, 2], e_out[:, 3], e_in[:, 0], e_in[:, 1], e_in[:, 2], e_in[:, 3])
    convex = turn < 0
    corner = np.where(convex, left_in & left_out, left_in | left_out)
    on_edge = ~(at_start | at_end)
    return np.asarray((d > 0) & np.where(on_edge, left_in, corner))


def exact_distance(a: Footprint, b: Footprint, upper: float = np.inf) -> float:
    """Exact geodesic distance between two cores; 0 when they touch or overlap.

    ``upper``, any known upper bound, only prunes the vertex-edge pairs that cannot be nearest.
    """
    if a.kind == "point":
        return float(point_distances(np.array([a.centre[0]]), np.array([a.centre[1]]), b)[0])
    if b.kind == "point":
        return exact_distance(b, a, upper)
    if _boundaries_cross(a, b):
        return 0.0
    # With no crossing, each ring lies wholly inside or outside the other core: one vertex per
    # ring says which.
    for inner, outer in ((a, b), (b, a)):
        if outer.kind == "polygon":
            v = inner.ring_starts
            if bool(np.any(point_distances(v[:, 0], v[:, 1], outer) == 0.0)):
                return 0.0
    best = _nearest_vertex_edge(a, b, upper)
    if not np.isfinite(best) and np.isfinite(upper):
        best = _nearest_vertex_edge(a, b, np.inf)
    return best


def _nearest_vertex_edge(a: Footprint, b: Footprint, upper: float) -> float:
    """Between cores that neither cross nor nest, the distance is reached at a vertex."""
    best = float(upper) if np.isfinite(upper) else np.inf
    found = np.inf
    for near, far in ((a, b), (b, a)):
        v, e = _near_pairs(near.vertices, far, best)
        if len(v):
            d, _ = geodesy.edge_distance(
                near.vertices[v, 0],
                near.vertices[v, 1],
                far.edges[e, 0],
                far.edges[e, 1],
                far.edges[e, 2],
                far.edges[e, 3],
            )
            found = min(found, float(d.min()))
            best = min(best, found)
    return found


def _grow(box: Array, metres: float) -> Array:
    """Boxes widened by ``metres`` in every direction, conservatively (see degrees_around)."""
    out = box.copy()
    dlat = np.degrees(metres / geodesy.M_MIN)
    far = np.minimum(89.999, np.maximum(np.abs(box[:, 1]), np.abs(box[:, 3])) + dlat)
    dlon = np.degrees(metres / (geodesy.A * np.cos(np.radians(far))))
    out[:, 0] -= dlon
    out[:, 2] += dlon
    out[:, 1] -= dlat
    out[:, 3] += dlat
    return out


def _boundaries_cross(a: Footprint, b: Footprint) -> bool:
    """Whether any geodesic edge of ``a`` crosses or touches one of ``b``'s."""
    ba, bb = _grow(a.edge_boxes, 1.0), b.edge_boxes
    i, j = np.nonzero(
        (ba[:, None, 0] <= bb[None, :, 2])
        & (bb[None, :, 0] <= ba[:, None, 2])
        & (ba[:, None, 1] <= bb[None, :, 3])
        & (bb[None, :, 1] <= ba[:, None, 3])
    )
    if len(i) == 0:
        return False
    ea, eb = a.edges[i], b.edges[j]
    s1 = geodesy.side(eb[:, 0], eb[:, 1], ea[:, 0], ea[:, 1], ea[:, 2], ea[:, 3])
    s2 = geodesy.side(eb[:, 2], eb[:, 3], ea[:, 0], ea[:, 1], ea[:, 2], ea[:, 3])
    s3 = geodesy.side(ea[:, 0], ea[:, 1], eb[:, 0], eb[:, 1], eb[:, 2], eb[:, 3])
    s4 = geodesy.side(ea[:, 2], ea[:, 3], eb[:, 0], eb[:, 1], eb[:, 2], eb[:, 3])
    straddle = (s1 * s2 <= 0) & (s3 * s4 <= 0)
    if not straddle.any():
        return False
    # Two pieces of one geodesic line straddle each other without meeting; measure those.
    for k in np.flatnonzero(straddle):
        if s1[k] == 0 and s2[k] == 0:
            d, _ = geodesy.edge_distance(
                np.array([eb[k, 0], eb[k, 2]]),
                np.array([eb[k, 1], eb[k, 3]]),
                np.full(2, ea[k, 0]),
                np.full(2, ea[k, 1]),
                np.full(2, ea[k, 2]),
                np.full(2, ea[k, 3]),
            )
            if d.min() <= EPS:
                return True
            continue
        return True
    return False


def _near_pairs(vertices: Array, far: Footprint, within: float) -> tuple[np.ndarray, np.ndarray]:
    """(vertex, edge) index pairs whose distance could be at most ``within`` metres."""
    if not np.isfinite(within):
        v, e = np.indices((len(vertices), len(far.edges)))
        return v.ravel(), e.ravel()
    boxes = _grow(far.edge_boxes, within)
    v, e = np.nonzero(
        (vertices[:, None, 0] >= boxes[None, :, 0])
        & (vertices[:, None, 0] <= boxes[None, :, 2])
        & (vertices[:, None, 1] >= boxes[None, :, 1])
        & (vertices[:, None, 1] <= boxes[None, :, 3])
    )
    return v, e
