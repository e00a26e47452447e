"""GeoJSON (RFC 7946) geometries in, validated footprints out; every refusal names its field.

A refusal is an :class:`~parley.errors.InvalidGeometry` whose ``field`` extra points at the
offending member, down to the coordinate: ``body.volumes[0].footprint.coordinates[0][3]``.
Indexes are those of the JSON the party sent, before any cleaning.

What is refused, and why, is listed in docs/screening.md ("Validation").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from parley.errors import InvalidGeometry
from parley.geo import geodesy
from parley.geo.footprint import Footprint
from parley.geo.geodesy import Array, Frame


@dataclass(frozen=True)
class Limits:
    """What the hub accepts. Each limit is a refusal, documented in docs/screening.md."""

    max_vertices: int = 10_000
    #: Operation volumes and protected sites (km^2, geodesic).
    max_footprint_km2: float = 2_500.0
    #: Area rules can be as large as a governorate or a border strip.
    max_area_km2: float = 250_000.0
    #: Radii, site buffers and corridor half-widths.
    min_radius_m: float = 1.0
    max_radius_m: float = 50_000.0
    #: Nothing may reach further than this from the middle of its box (buffer included).
    max_extent_m: float = 1_000_000.0
    #: Nothing may reach closer to a pole than this latitude (buffer included).
    max_abs_lat: float = 85.0
    #: The floor of every surface thing (sites, movements, areas): below the Dead Sea shore
    #: (about -430 m above sea level, a little more above the ellipsoid).
    floor_m: float = -500.0
    #: Ceiling of a site (and a movement) that names none, metres above the ellipsoid.
    default_ceiling_m: float = 3_000.0
    #: Any altitude outside this range is a typo, not an aircraft.
    min_altitude_m: float = -1_000.0
    max_altitude_m: float = 100_000.0


DEFAULT_LIMITS = Limits()


def refuse(detail: str, field: str) -> InvalidGeometry:
    return InvalidGeometry(f"{field}: {detail}", field=field)


def member(body: object, name: str, field: str) -> Any:
    if not isinstance(body, dict):
        raise refuse("must be a JSON object", field)
    if name not in body:
        raise refuse("is required", f"{field}.{name}")
    return body[name]


def number(value: object, field: str) -> float:
    """A finite JSON number (booleans are not numbers, whatever Python thinks)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refuse("must be a number", field)
    out = float(value)
    if not math.isfinite(out):
        raise refuse("must be finite", field)
    return out


def radius(value: object, field: str, limits: Limits, *, zero: bool = False) -> float:
    r = number(value, field)
    low = 0.0 if zero else limits.min_radius_m
    if r < low or (not zero and r <= 0):
        raise refuse(f"must be at least {low:g} m (got {r:g})", field)
    if r > limits.max_radius_m:
        raise refuse(f"must be at most {limits.max_radius_m:g} m (got {r:g})", field)
    return r


# -- positions and rings ----------------------------------------------------------------------


def position(value: object, field: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise refuse("a position is [longitude, latitude] (optionally a height)", field)
    lon = number(value[0], field)
    lat = number(value[1], field)
    if len(value) == 3:
        number(value[2], field)
    if not -180.0 <= lon <= 180.0:
        raise refuse(f"longitude {lon:g} is outside [-180, 180]", field)
    if not -90.0 <= lat <= 90.0:
        raise refuse(f"latitude {lat:g} is outside [-90, 90]", field)
    return lon, lat


class _Budget:
    """Counts vertices across a whole geometry against ``Limits.max_vertices``."""

    def __init__(self, limits: Limits) -> None:
        self.left = limits.max_vertices
        self.limit = limits.max_vertices

    def take(self, n: int, field: str) -> None:
        self.left -= n
        if self.left < 0:
            raise refuse(f"more than {self.limit} positions in one geometry", field)


def path(value: object, field: str, budget: _Budget) -> tuple[Array, list[int]]:
    """Positions as (n, 2), consecutive repeats dropped, with each kept one's original index."""
    if not isinstance(value, list | tuple):
        raise refuse("must be an array of positions", field)
    budget.take(len(value), f"{field}[{len(value) - 1}]" if value else field)
    kept: list[tuple[float, float]] = []
    index: list[int] = []
    for i, item in enumerate(value):
        p = position(item, f"{field}[{i}]")
        if kept and p == kept[-1]:
            continue
        if kept and abs(p[0] - kept[-1][0]) >= 180.0:
            raise refuse(
                "this edge crosses the antimeridian; cut the geometry there (RFC 7946 3.1.9)",
                f"{field}[{i}]",
            )
        kept.append(p)
        index.append(i)
    return np.array(kept, dtype=np.float64).reshape(-1, 2), index


def ring(value: object, field: str, budget: _Budget) -> tuple[Array, list[int]]:
    coords, index = path(value, field, budget)
    raw = value if isinstance(value, list | tuple) else []
    if len(raw) < 4:
        raise refuse("a linear ring needs at least four positions", field)
    if position(raw[0], f"{field}[0]") != position(raw[-1], f"{field}[{len(raw) - 1}]"):
        raise refuse(
            "ring is not closed: the last position must repeat the first",
            f"{field}[{len(raw) - 1}]",
        )
    if len(coords) < 4:
        raise refuse("a ring needs at least three distinct vertices", field)
    if len({(float(x), float(y)) for x, y in coords[:-1]}) < 3:
        raise refuse("a ring needs at least three distinct vertices", field)
    return coords, index


# -- geometries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A geometry as read: its type and its rings or path, each with original indexes."""

    type: str
    #: Point/LineString: [[(coords, index)]]; Polygon: [[ring, ...]]; MultiPolygon: several.
    polygons: list[list[tuple[Array, list[int]]]]
    field: str


def geometry(value: object, field: str, allowed: Sequence[str], limits: Limits) -> Parsed:
    kind = member(value, "type", field)
    if kind not in allowed:
        names = " or ".join(allowed)
        raise refuse(f"must be a GeoJSON {names}, not {kind!r}", f"{field}.type")
    coords = member(value, "coordinates", field)
    where = f"{field}.coordinates"
    budget = _Budget(limits)
    if kind == "Point":
        lon, lat = position(coords, where)
        return Parsed(kind, [[(np.array([[lon, lat]]), [0])]], field)
    if kind == "LineString":
        line, index = path(coords, where, budget)
        if len(line) < 2:
            raise refuse("a line needs at least two distinct positions", where)
        return Parsed(kind, [[(line, index)]], field)
    if kind == "Polygon":
        return Parsed(kind, [_rings(coords, where, budget)], field)
    if not isinstance(coords, list) or not coords:
        raise refuse("must be a non-empty array of polygons", where)
    return Parsed(kind, [_rings(p, f"{where}[{i}]", budget) for i, p in enumerate(coords)], field)


def _rings(value: object, field: str, budget: _Budget) -> list[tuple[Array, list[int]]]:
    if not isinstance(value, list) or not value:
        raise refuse("a polygon is a non-empty array of linear rings", field)
    return [ring(r, f"{field}[{i}]", budget) for i, r in enumerate(value)]


def footprint(parsed: Parsed, buffer_m: float, limits: Limits, max_km2: float | None) -> Footprint:
    """Build and check the footprint: reach, poles, antimeridian, shape, area."""
    field = parsed.field
    where = f"{field}.coordinates"
    if parsed.type == "Point":
        ((coords, _),) = parsed.polygons[0]
        shape = Footprint.point(float(coords[0, 0]), float(coords[0, 1]), buffer_m)
    elif parsed.type == "LineString":
        ((coords, _),) = parsed.polygons[0]
        shape = Footprint.line(coords, buffer_m)
    else:
        _check_reach([r for p in parsed.polygons for r, _ in p], buffer_m, limits, where)
        _check_shape(parsed, where)
        shape = Footprint.polygons([[r for r, _ in p] for p in parsed.polygons], buffer_m)
    if shape.extent_m + buffer_m > limits.max_extent_m:
        raise refuse(
            f"reaches {(shape.extent_m + buffer_m) / 1000:.0f} km from its middle; the most is "
            f"{limits.max_extent_m / 1000:.0f} km: split it",
            where,
        )
    lo_lon, lo_lat, hi_lon, hi_lat = shape.box()
    if lo_lat < -limits.max_abs_lat or hi_lat > limits.max_abs_lat:
        raise refuse(
            f"reaches beyond {limits.max_abs_lat:g} degrees of latitude; polar footprints are "
            "not screened",
            where,
        )
    if lo_lon < -180.0 or hi_lon > 180.0:
        raise refuse("reaches across the antimeridian; cut it there (RFC 7946 3.1.9)", where)
    if max_km2 is not None:
        km2 = shape.area_m2() / 1e6
        if km2 > max_km2:
            raise refuse(f"covers {km2:,.0f} km^2; the most accepted is {max_km2:,.0f} km^2", where)
    return shape


def _check_reach(rings: list[Array], buffer_m: float, limits: Limits, where: str) -> None:
    """Refuse a far-flung polygon before the costly checks, which assume a local frame."""
    everything = np.concatenate(rings)
    lon = 0.5 * (everything[:, 0].min() + everything[:, 0].max())
    lat = 0.5 * (everything[:, 1].min() + everything[:, 1].max())
    n = len(everything)
    reach = geodesy.distance(np.full(n, lon), np.full(n, lat), everything[:, 0], everything[:, 1])
    if float(reach.max()) + buffer_m > limits.max_extent_m:
        raise refuse(
            f"reaches {(float(reach.max()) + buffer_m) / 1000:.0f} km from its middle; the most "
            f"is {limits.max_extent_m / 1000:.0f} km: split it",
            where,
        )


def _check_shape(parsed: Parsed, where: str) -> None:
    """Self-intersections, holes outside their shell, overlapping polygons: in a local frame.

    The frame's straight pieces are within millimetres of the geodesic edges (see geodesy), so a
    crossing is found wherever edges truly cross by more than that.
    """
    everything = np.concatenate([r for p in parsed.polygons for r, _ in p])
    frame = Frame.at(
        0.5 * (float(everything[:, 0].min()) + float(everything[:, 0].max())),
        0.5 * (float(everything[:, 1].min()) + float(everything[:, 1].max())),
    )
    multi = parsed.type == "MultiPolygon"
    pictures: list[shapely.Polygon] = []
    for p, rings in enumerate(parsed.polygons):
        prefix = f"{where}[{p}]" if multi else where
        drawn = [
            _simple_ring(coords, index, frame, f"{prefix}[{r}]")
            for r, (coords, index) in enumerate(rings)
        ]
        shell = shapely.Polygon(drawn[0])
        holes: list[shapely.Polygon] = []
        for h, hole in enumerate(drawn[1:], start=1):
            hole_area = shapely.Polygon(hole)
            if not shapely.contains(shell, hole_area) or shapely.relate_pattern(
                shapely.LinearRing(drawn[0]), shapely.LinearRing(hole), "1********"
            ):
                raise refuse("this hole is not inside its polygon's outer ring", f"{prefix}[{h}]")
            for g, other in enumerate(holes, start=1):
                if shapely.relate_pattern(hole_area, other, "T********") or shapely.relate_pattern(
                    hole_area, other, "****1****"
                ):
                    raise refuse(f"this hole overlaps hole {g}", f"{prefix}[{h}]")
            holes.append(hole_area)
        picture = shapely.Polygon(drawn[0], drawn[1:])
        if not shapely.is_valid(picture):
            reason = shapely.is_valid_reason(picture)
            raise refuse(f"invalid polygon ({reason})", prefix)
        for q, other in enumerate(pictures):
            if shapely.relate_pattern(picture, other, "T********"):
                raise refuse(f"this polygon overlaps polygon {q}", prefix)
        pictures.append(picture)


def _simple_ring(coords: Array, index: list[int], frame: Frame, field: str) -> Array:
    """The ring drawn in ``frame``, refused if it crosses or touches itself."""
    lon, lat, piece_edge, _ = geodesy.densify(coords[:, 0], coords[:, 1])
    xy = frame.project_lonlat(lon, lat)
    pieces = shapely.linestrings(np.stack((xy[:-1], xy[1:]), axis=1))
    tree = shapely.STRtree(pieces)
    left, right = tree.query(pieces, predicate="intersects")
    n = len(pieces)
    keep = left < right
    left, right = left[keep], right[keep]
    neighbours = (right == left + 1) | ((left == 0) & (right == n - 1))
    # Neighbours meet at their shared vertex; anything more is a spike doubling back.
    doubled = neighbours & (shapely.length(shapely.intersection(pieces[left], pieces[right])) > 0)
    bad = ~neighbours | doubled
    if bad.any():
        k = int(np.flatnonzero(bad)[np.argmin(right[bad])])
        first, second = int(piece_edge[left[k]]), int(piece_edge[right[k]])
        if first == second:
            raise refuse("this edge doubles back on itself", f"{field}[{index[first]}]")
        raise refuse(
            f"the ring crosses itself: the edge from here meets the edge from "
            f"{field}[{index[first]}]",
            f"{field}[{index[second]}]",
        )
    return xy[:-1]
