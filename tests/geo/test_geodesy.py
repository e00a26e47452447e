"""The geodesic primitives, and the bounds the fast path rests on, checked against GeographicLib."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from parley.geo import geodesy
from parley.geo.footprint import Footprint
from tests.geo import oracle

lons = st.floats(-170.0, 170.0)
lats = st.floats(-80.0, 80.0)
azimuths = st.floats(0.0, 360.0)
one = np.ones(1)


def fwd(lon: float, lat: float, az: float, d: float) -> tuple[float, float]:
    x, y, _ = geodesy.forward(one * lon, one * lat, one * az, one * d)
    return float(x[0]), float(y[0])


def test_ecef_matches_proj() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500)
    to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    x, y, z = to_ecef.transform(lon, lat, np.zeros_like(lon))
    assert np.max(np.abs(geodesy.ecef(lon, lat) - np.column_stack((x, y, z)))) < 1e-6


def test_wgs84_constants() -> None:
    assert geodesy.GEOD.a == geodesy.A
    assert math.isclose(geodesy.GEOD.f, geodesy.F)
    assert math.isclose(geodesy.M_MIN, 6_335_439.327, abs_tol=1e-3)


@settings(max_examples=150, deadline=None)
@given(
    lons,
    lats,
    azimuths,
    st.floats(0.0, 80_000.0),
    azimuths,
    st.floats(0.0, 60_000.0),
    st.floats(0.0, 1.0),
)
def test_edge_distance_matches_a_brute_force_search(
    lon: float, lat: float, az: float, length: float, paz: float, pd: float, along: float
) -> None:
    blon, blat = fwd(lon, lat, az, length)
    # P starts somewhere along the edge and steps off it, so feet land inside and at both ends.
    slon, slat = fwd(lon, lat, az, along * length * 1.4 - 0.2 * length)
    plon, plat = fwd(slon, slat, paz, pd)
    got, fraction = geodesy.edge_distance(
        one * plon, one * plat, one * lon, one * lat, one * blon, one * blat
    )
    want = oracle.point_edge(np.array([[plon, plat]]), np.array([[lon, lat, blon, blat]]))
    assert abs(got[0] - want[0]) < 1e-4
    assert 0.0 <= fraction[0] <= 1.0


def test_edge_distance_special_cases() -> None:
    a = np.array([37.0]), np.array([36.0])
    b = np.array([37.1]), np.array([36.0])
    # On a vertex, on the edge, on a zero-length edge.
    d, f = geodesy.edge_distance(a[0], a[1], a[0], a[1], b[0], b[1])
    assert d[0] == 0 and f[0] == 0
    d, f = geodesy.edge_distance(b[0], b[1], a[0], a[1], b[0], b[1])
    assert d[0] < 1e-6 and f[0] == 1
    d, _ = geodesy.edge_distance(b[0], b[1], a[0], a[1], a[0], a[1])
    assert math.isclose(d[0], geodesy.distance(a[0], a[1], b[0], b[1])[0])
    # Beyond an end, the end is nearest.
    c = np.array([37.2]), np.array([36.0])
    d, f = geodesy.edge_distance(c[0], c[1], a[0], a[1], b[0], b[1])
    assert f[0] == 1.0 and math.isclose(d[0], geodesy.distance(b[0], b[1], c[0], c[1])[0])


def test_side() -> None:
    a, b = (np.array([37.0]), np.array([36.0])), (np.array([37.0]), np.array([36.1]))
    east = geodesy.side(np.array([37.01]), np.array([36.05]), a[0], a[1], b[0], b[1])
    west = geodesy.side(np.array([36.99]), np.array([36.05]), a[0], a[1], b[0], b[1])
    assert east[0] > 0 > west[0]
    # Behind A, the side of the whole line is still given.
    behind = geodesy.side(np.array([37.01]), np.array([35.9]), a[0], a[1], b[0], b[1])
    assert behind[0] > 0
    assert geodesy.side(a[0], a[1], a[0], a[1], b[0], b[1])[0] == 0


def test_geodesic_edges_bow_poleward_of_the_parallel() -> None:
    # The edge model, concretely: an edge between two points on 60N passes north of 60N.
    _, lat, _, _ = geodesy.densify(np.array([10.0, 11.0]), np.array([60.0, 60.0]), 1_000.0)
    assert lat.max() > 60.0008
    bow_m = (lat.max() - 60.0) * math.pi / 180 * geodesy.M_MIN
    assert bow_m < geodesy.bulge_m(60.0, 60.0, 55_800.0)


@settings(max_examples=80, deadline=None)
@given(lons, lats, azimuths, st.floats(1.0, 300_000.0), st.floats(100.0, 20_000.0))
def test_densify_keeps_vertices_and_stays_on_the_geodesic(
    lon: float, lat: float, az: float, length: float, step: float
) -> None:
    blon, blat = fwd(lon, lat, az, length)
    path_lon, path_lat = np.array([lon, blon]), np.array([lat, blat])
    dlon, dlat, edge, longest = geodesy.densify(path_lon, path_lat, step)
    assert (dlon[0], dlat[0], dlon[-1], dlat[-1]) == (lon, lat, blon, blat)
    assert np.all(edge == 0)
    pieces = geodesy.distance(dlon[:-1], dlat[:-1], dlon[1:], dlat[1:])
    assert pieces.max() <= step * (1 + 1e-9) and math.isclose(longest, pieces.max(), rel_tol=1e-6)
    d, _ = geodesy.edge_distance(
        dlon,
        dlat,
        np.full_like(dlon, lon),
        np.full_like(dlon, lat),
        np.full_like(dlon, blon),
        np.full_like(dlon, blat),
    )
    assert d.max() < 1e-6


@settings(max_examples=150, deadline=None)
@given(lons, lats, azimuths, st.floats(0.0, 1_500_000.0), azimuths, st.floats(0.0, 1_500_000.0))
def test_frame_distances_are_bounded(
    lon: float, lat: float, az1: float, r1: float, az2: float, r2: float
) -> None:
    """Within rho of the centre: cos(rho / M_MIN) * geodesic <= planar <= geodesic."""
    frame = geodesy.Frame.at(lon, lat)
    p = fwd(lon, lat, az1, r1)
    q = fwd(lon, lat, az2, r2)
    xy = frame.project_lonlat(np.array([p[0], q[0]]), np.array([p[1], q[1]]))
    planar = float(np.hypot(*(xy[0] - xy[1])))
    s = float(geodesy.distance(one * p[0], one * p[1], one * q[0], one * q[1])[0])
    c = float(geodesy.contraction(max(r1, r2)))
    assert c * s - 1e-6 <= planar <= s + 1e-6


@settings(max_examples=150, deadline=None)
@given(lons, lats, azimuths, st.floats(0.0, 1_500_000.0), azimuths, st.floats(10.0, 20_000.0))
def test_frame_sagitta_bound(
    lon: float, lat: float, az: float, rho: float, heading: float, length: float
) -> None:
    """A geodesic piece's planar image strays from its chord by at most ``sagitta``."""
    frame = geodesy.Frame.at(lon, lat)
    a = fwd(lon, lat, az, rho)
    b = fwd(a[0], a[1], heading, length)
    plon, plat, _, _ = geodesy.densify(np.array([a[0], b[0]]), np.array([a[1], b[1]]), length / 64)
    xy = frame.project_lonlat(plon, plat)
    chord = xy[-1] - xy[0]
    normal = np.array([-chord[1], chord[0]]) / np.hypot(*chord)
    off = float(np.max(np.abs((xy - xy[0]) @ normal)))
    far = max(
        rho,
        float(
            np.max(geodesy.distance(np.full_like(plon, lon), np.full_like(plat, lat), plon, plat))
        ),
    )
    assert off <= float(geodesy.sagitta(far, length)) + 1e-7


def test_frame_bounds_are_small_where_screening_happens() -> None:
    # 50 km out, a 5 km piece strays by under 5 mm and distances shrink by under 4e-5.
    assert float(geodesy.sagitta(50_000.0, 5_000.0)) < 0.005
    assert 1 - float(geodesy.contraction(50_000.0)) < 4e-5


@settings(max_examples=150, deadline=None)
@given(
    st.floats(-170, 170),
    st.floats(-84, 84),
    st.floats(0, 0.5),
    st.floats(0, 0.5),
    st.floats(0, 100_000),
    azimuths,
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_degrees_around_holds_every_path(
    lon: float, lat: float, w: float, h: float, metres: float, az: float, u: float, v: float
) -> None:
    lat_hi = min(84.5, lat + h)
    start = (lon + u * w, lat + v * (lat_hi - lat))
    end = fwd(start[0], start[1], az, metres)
    dlat, dlon = geodesy.degrees_around(lat, lat_hi, metres)
    tiny = 1e-12  # fwd's own rounding for a zero-length step
    assert lat - dlat - tiny <= end[1] <= lat_hi + dlat + tiny
    assert lon - dlon - tiny <= end[0] <= lon + w + dlon + tiny


@settings(max_examples=100, deadline=None)
@given(lons, st.floats(-84.0, 84.0), azimuths, st.floats(1.0, 1_500_000.0))
def test_boxes_hold_whole_edges(lon: float, lat: float, az: float, length: float) -> None:
    """Index boxes hold every point of a geodesic edge, however it bows."""
    end = fwd(lon, lat, az, length)
    if abs(end[1]) > 84.5 or abs(end[0] - lon) >= 180:
        return
    line = Footprint.line(np.array([[lon, lat], [end[0], end[1]]]), 0.0)
    path = oracle.Shape("line", [[np.array([[lon, lat], end])]], 0.0).dense(100.0)[0]
    for box in (line.edge_boxes[0], line.bounds, line.box(10.0)):
        assert np.all(path[:, 0] >= box[0] - 1e-9) and np.all(path[:, 0] <= box[2] + 1e-9)
        assert np.all(path[:, 1] >= box[1]) and np.all(path[:, 1] <= box[3])
