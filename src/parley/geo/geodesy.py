"""Geodesic primitives on WGS 84 and the local frame screening works in.

Everything here is in metres on the WGS 84 ellipsoid. Exact answers come from pyproj's ``Geod``,
which wraps GeographicLib (Karney 2013): distances and azimuths to about 15 nm. The fast path
screens in a :class:`Frame`, a flat picture of the neighbourhood of one point, and the functions
:func:`contraction` and :func:`sagitta` bound how far that picture can be from the truth; the
proof is in docs/screening.md ("Edge model").

Polygon and line edges are geodesics, the shortest paths on the ellipsoid between their
vertices. A straight line in degrees is a different path (56 km along 60N it is 105 m south of
the geodesic), and which one a party meant must not depend on the software that drew it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyproj import Geod

Array = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]

#: WGS 84 semi-major axis and flattening (NGA.STND.0036).
A = 6_378_137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
#: The smallest radius of curvature anywhere on the ellipsoid: the meridian at the equator.
#: Every normal curvature is at most 1 / M_MIN, which is what the frame bounds rest on.
M_MIN = A * (1 - E2)
#: Mean radius, used only to steer iterations; never to answer.
R_MEAN = 6_371_008.8

GEOD = Geod(ellps="WGS84")

#: Geodesic edges are cut into pieces no longer than this for the planar picture.
STEP_M = 5_000.0
#: The frame is only trusted this far from its centre (about 23 degrees of arc).
MAX_FRAME_M = 2_500_000.0


def as_array(values: object) -> Array:
    return np.ascontiguousarray(values, dtype=np.float64)


def ecef(lon: Array, lat: Array) -> Array:
    """Earth-centred, Earth-fixed coordinates (n, 3) of points on the ellipsoid surface."""
    lam = np.radians(lon)
    phi = np.radians(lat)
    sin_phi = np.sin(phi)
    n = A / np.sqrt(1 - E2 * sin_phi * sin_phi)
    cos_phi = np.cos(phi)
    return np.stack(
        (n * cos_phi * np.cos(lam), n * cos_phi * np.sin(lam), n * (1 - E2) * sin_phi), axis=-1
    )


def ecef_one(lon: float, lat: float) -> tuple[float, float, float]:
    """:func:`ecef` for one point, without numpy's per-call overhead."""
    lam, phi = math.radians(lon), math.radians(lat)
    sin_phi = math.sin(phi)
    n = A / math.sqrt(1 - E2 * sin_phi * sin_phi)
    cos_phi = math.cos(phi)
    return (n * cos_phi * math.cos(lam), n * cos_phi * math.sin(lam), n * (1 - E2) * sin_phi)


def inverse(lon1: Array, lat1: Array, lon2: Array, lat2: Array) -> tuple[Array, Array]:
    """Azimuth (degrees clockwise from north) at point 1, and geodesic distance (m)."""
    az, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return as_array(az), as_array(dist)


def distance(lon1: Array, lat1: Array, lon2: Array, lat2: Array) -> Array:
    """Geodesic distance in metres, element-wise."""
    return inverse(lon1, lat1, lon2, lat2)[1]


def forward(lon: Array, lat: Array, az: Array, dist: Array) -> tuple[Array, Array, Array]:
    """The point ``dist`` metres along azimuth ``az``, and the azimuth of travel there."""
    lon2, lat2, back = GEOD.fwd(lon, lat, az, dist)
    return as_array(lon2), as_array(lat2), as_array(back) + 180.0


def edge_distance(
    plon: Array, plat: Array, alon: Array, alat: Array, blon: Array, blat: Array
) -> tuple[Array, Array]:
    """Geodesic distance from each P to the geodesic segment A-B, and the foot's fraction of AB.

    Newton's method on the along-track distance: from the current foot X, the spherical
    along-track formula says how far to slide along the edge; the ellipsoid only perturbs that by
    about the flattening, so each step gains two to three digits. Every answer is a real
    geodesic distance from P to a real point of the edge, so it can only err upwards, and by
    micrometres once the step size is below 1e-7 m.
    """
    az_ab, length = inverse(alon, alat, blon, blat)
    az_ap, s = inverse(alon, alat, plon, plat)
    t = np.clip(_along(s, az_ap - az_ab), 0.0, length)
    best = s.copy()
    foot = np.zeros_like(s)
    for _ in range(12):
        xlon, xlat, heading = forward(alon, alat, az_ab, t)
        az_xp, sx = inverse(xlon, xlat, plon, plat)
        better = sx < best
        best = np.where(better, sx, best)
        foot = np.where(better, t, foot)
        step = _along(sx, az_xp - heading)
        t_next = np.clip(t + step, 0.0, length)
        if float(np.max(np.abs(t_next - t), initial=0.0)) < 1e-7:
            break
        t = t_next
    # The end point B is a candidate too: the clip may stop a hair short of it.
    sb = distance(blon, blat, plon, plat)
    at_b = sb < best
    best = np.where(at_b, sb, best)
    foot = np.where(at_b, length, foot)
    # Snap feet within a micrometre of an end onto it: callers tell corners from edges by it.
    foot = np.where(foot <= 1e-6, 0.0, np.where(length - foot <= 1e-6, length, foot))
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(length > 0, foot / length, 0.0)
    return best, fraction


def _along(s: Array, angle_deg: Array) -> Array:
    """Spherical along-track distance to the foot of a perpendicular, signed."""
    sigma = s / R_MEAN
    along: Array = R_MEAN * np.arctan2(np.sin(sigma) * np.cos(np.radians(angle_deg)), np.cos(sigma))
    return along


def side(plon: Array, plat: Array, alon: Array, alat: Array, blon: Array, blat: Array) -> Array:
    """Which side of the geodesic through A towards B each P lies: > 0 right, < 0 left, 0 on it.

    Geodesics leaving A fan out monotonically in azimuth up to the conjugate point, thousands of
    kilometres away, so the sign of the azimuth difference at A is the side of the whole line.
    """
    az_ab, _ = inverse(alon, alat, blon, blat)
    az_ap, s = inverse(alon, alat, plon, plat)
    return np.where(s > 0, np.sin(np.radians(az_ap - az_ab)), 0.0)


def ring_area(lon: Array, lat: Array) -> float:
    """Absolute geodesic area (m^2) enclosed by a ring with geodesic edges."""
    area, _ = GEOD.polygon_area_perimeter(lon, lat)
    return abs(float(area))


def densify(lon: Array, lat: Array, step_m: float = STEP_M) -> tuple[Array, Array, Indices, float]:
    """Insert points along each geodesic edge of a path so no piece is longer than ``step_m``.

    Returns the new longitudes, latitudes, the index of the original edge each piece belongs to,
    and the longest piece in metres. The original vertices are kept exactly.
    """
    if len(lon) < 2:
        return lon.copy(), lat.copy(), np.zeros(0, dtype=np.int64), 0.0
    plon, plat, pieces, longest = split_edges(lon[:-1], lat[:-1], lon[1:], lat[1:], step_m)
    edge = np.repeat(np.arange(len(pieces)), pieces)
    return np.append(plon, lon[-1]), np.append(plat, lat[-1]), edge, longest


def split_edges(
    alon: Array, alat: Array, blon: Array, blat: Array, step_m: float = STEP_M
) -> tuple[Array, Array, Indices, float]:
    """Cut geodesic edges A-B into equal pieces no longer than ``step_m``.

    Returns the first point of every piece (A itself, bit for bit, then the inserted points),
    edge after edge, how many pieces each edge has, and the longest piece in metres.
    """
    az, length = inverse(alon, alat, blon, blat)
    pieces = np.maximum(1, np.ceil(length / step_m)).astype(np.int64)
    edge = np.repeat(np.arange(len(length)), pieces)
    first = np.cumsum(pieces) - pieces
    k = np.arange(int(pieces.sum())) - np.repeat(first, pieces)
    inner = k > 0
    plon = alon[edge]
    plat = alat[edge]
    if inner.any():
        e = edge[inner]
        plon[inner], plat[inner], _ = forward(
            alon[e], alat[e], az[e], length[e] * k[inner] / pieces[e]
        )
    longest = float(np.max(length / pieces)) if len(length) else 0.0
    return plon, plat, pieces, longest


def tilt(rho_m: float | Array) -> float | Array:
    """Largest angle between the ellipsoid normal at a frame's centre and ``rho_m`` away.

    The normal turns at most as fast as the largest principal curvature, 1 / M_MIN.
    """
    return np.minimum(np.asarray(rho_m, dtype=np.float64), MAX_FRAME_M) / M_MIN


def contraction(rho_m: float | Array) -> Array:
    """Planar distances within ``rho_m`` of the centre are at least this fraction of geodesic."""
    return np.asarray(np.cos(tilt(rho_m)), dtype=np.float64)


def sagitta(rho_m: float | Array, step_m: float | Array) -> Array:
    """How far the planar image of a geodesic piece ``step_m`` long, within ``rho_m`` of the
    centre, can stray from the straight segment between its ends."""
    theta = tilt(rho_m)
    kappa = np.sin(theta) / (M_MIN * np.cos(theta) ** 2)
    return np.asarray(kappa * np.asarray(step_m) ** 2 / 8.0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Frame:
    """An orthographic picture of the ellipsoid on the tangent plane at one point.

    x points east and y north at the centre. Straight 3D chords map to straight segments, and the
    map is a contraction whose distortion grows with the square of the distance from the centre.
    """

    lon: float
    lat: float
    origin: Array
    axes: Array

    @classmethod
    def at(cls, lon: float, lat: float) -> Frame:
        lam, phi = math.radians(lon), math.radians(lat)
        east = (-math.sin(lam), math.cos(lam), 0.0)
        north = (-math.sin(phi) * math.cos(lam), -math.sin(phi) * math.sin(lam), math.cos(phi))
        # Scalar maths: a frame is made per query footprint, and numpy's per-call overhead was
        # most of its cost. A point footprint's own ECEF position is this same value.
        origin = np.array(ecef_one(lon, lat))
        return cls(lon, lat, origin, np.array([east, north], dtype=np.float64).T.copy())

    def project(self, xyz: Array) -> Array:
        """Planar (n, 2) coordinates in metres of ECEF points (n, 3)."""
        out: Array = (xyz - self.origin) @ self.axes
        return out

    def project_lonlat(self, lon: Array, lat: Array) -> Array:
        return self.project(ecef(lon, lat))


def degrees_around(lat_lo: float, lat_hi: float, metres: float) -> tuple[float, float]:
    """Conservative (dlat, dlon) in degrees that any path ``metres`` long can move from a box.

    A path's latitude changes at most ds / M_MIN radians per metre and its longitude at most
    ds / (a cos(latitude)), the parallel's radius at the most poleward latitude it can reach.
    """
    dlat = math.degrees(metres / M_MIN)
    far = min(89.999, max(abs(lat_lo), abs(lat_hi)) + dlat)
    dlon = math.degrees(metres / (A * math.cos(math.radians(far))))
    return dlat, dlon


def bulge_m(lat_lo: float, lat_hi: float, step_m: float) -> float:
    """How far a geodesic piece ``step_m`` long can bow poleward of its ends' latitudes.

    Against a parallel, a geodesic bows by about step^2 tan(latitude) / (8 N). Twice that plus a
    metre covers the second-order terms at every latitude this module accepts.
    """
    far = min(89.0, max(abs(lat_lo), abs(lat_hi)))
    return 2.0 * step_m * step_m * math.tan(math.radians(far)) / (8 * M_MIN) + 1.0
