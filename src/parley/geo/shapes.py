"""The four things screening knows: operation volumes, protected sites, area rules, movements.

Each is parsed from the body of a signed submission and is immutable. Every one of them has a
``footprint`` (where), an ``altitude`` band (how high, metres above the WGS 84 ellipsoid) and a
``window`` (when), which is all the index needs; the rest is for the rules and for people.

Windows and bands are closed: a window that ends at 08:00 meets one that starts at 08:00, and a
band up to 1,000 m meets one from 1,000 m. docs/screening.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from parley import clock
from parley.errors import BadRequest, InvalidSubmission
from parley.geo import geojson
from parley.geo.footprint import Footprint
from parley.geo.geojson import DEFAULT_LIMITS, Limits, member, number, radius, refuse

Rule = Literal["no-fly", "no-operations", "delineation"]
RULES: tuple[Rule, ...] = ("no-fly", "no-operations", "delineation")


@dataclass(frozen=True)
class Window:
    """A closed time interval; ``end`` None means until further notice."""

    start: datetime
    end: datetime | None

    @property
    def bounds(self) -> tuple[float, float]:
        """Start and end as POSIX seconds, the end infinite when open."""
        return (self.start.timestamp(), self.end.timestamp() if self.end else float("inf"))


@dataclass(frozen=True)
class Band:
    """A closed altitude band in metres above the WGS 84 ellipsoid."""

    lower_m: float
    upper_m: float


@dataclass(frozen=True)
class Volume:
    """One 4D volume of an operation: a footprint (polygon, or circle) x band x window."""

    footprint: Footprint
    altitude: Band
    window: Window


@dataclass(frozen=True)
class Site:
    """A protected site: from :attr:`Limits.floor_m` up to its ceiling, while valid."""

    category: str
    name: str
    footprint: Footprint
    altitude: Band
    window: Window


@dataclass(frozen=True)
class Area:
    """An area rule. ``party`` is set for "no-fly", ``group`` for "delineation"."""

    rule: Rule
    party: str | None
    group: str | None
    footprint: Footprint
    altitude: Band
    window: Window


@dataclass(frozen=True)
class Movement:
    """A movement on the ground (a convoy): a route with a corridor half-width."""

    name: str
    footprint: Footprint
    altitude: Band
    window: Window


Item = Volume | Site | Area | Movement


# -- parsers ----------------------------------------------------------------------------------


def parse_volumes(
    body: object, field: str = "body", limits: Limits = DEFAULT_LIMITS
) -> list[Volume]:
    """The ``volumes`` of an operation body (its ``name`` is checked too)."""
    text(member(body, "name", field), f"{field}.name")
    volumes = member(body, "volumes", field)
    where = f"{field}.volumes"
    if not isinstance(volumes, list) or not volumes:
        raise refuse("must be a non-empty array of volumes", where)
    return [parse_volume(v, f"{where}[{i}]", limits) for i, v in enumerate(volumes)]


def parse_volume(body: object, field: str, limits: Limits = DEFAULT_LIMITS) -> Volume:
    parsed = geojson.geometry(
        member(body, "footprint", field), f"{field}.footprint", ("Polygon", "Point"), limits
    )
    assert isinstance(body, dict)
    if parsed.type == "Point":
        r = radius(member(body, "radius_m", field), f"{field}.radius_m", limits)
    elif "radius_m" in body:
        raise refuse("is only for a Point footprint (a circle)", f"{field}.radius_m")
    else:
        r = 0.0
    shape = geojson.footprint(parsed, r, limits, limits.max_footprint_km2)
    band = altitude(member(body, "altitude", field), f"{field}.altitude", limits)
    return Volume(shape, band, window(member(body, "time", field), f"{field}.time", open_end=False))


def parse_site(body: object, field: str = "body", limits: Limits = DEFAULT_LIMITS) -> Site:
    category = text(member(body, "category", field), f"{field}.category")
    name = text(member(body, "name", field), f"{field}.name")
    parsed = geojson.geometry(
        member(body, "geometry", field), f"{field}.geometry", ("Point", "Polygon"), limits
    )
    assert isinstance(body, dict)
    if parsed.type == "Point":
        r = radius(member(body, "radius_m", field), f"{field}.radius_m", limits)
    elif body.get("radius_m") is not None:
        r = radius(body["radius_m"], f"{field}.radius_m", limits, zero=True)
    else:
        r = 0.0
    shape = geojson.footprint(parsed, r, limits, limits.max_footprint_km2)
    ceiling = limits.default_ceiling_m
    if body.get("ceiling_m") is not None:
        ceiling = height(body["ceiling_m"], f"{field}.ceiling_m", limits)
        if ceiling <= limits.floor_m:
            raise refuse(f"must be above the floor of {limits.floor_m:g} m", f"{field}.ceiling_m")
    band = Band(limits.floor_m, ceiling)
    return Site(category, name, shape, band, window(member(body, "valid", field), f"{field}.valid"))


def parse_area(body: object, field: str = "body", limits: Limits = DEFAULT_LIMITS) -> Area:
    rule = member(body, "rule", field)
    if rule not in RULES:
        raise InvalidSubmission(
            f"{field}.rule must be one of {', '.join(RULES)}", field=f"{field}.rule"
        )
    assert isinstance(body, dict)
    party = text(member(body, "party", field), f"{field}.party") if rule == "no-fly" else None
    group = text(member(body, "group", field), f"{field}.group") if rule == "delineation" else None
    parsed = geojson.geometry(
        member(body, "geometry", field), f"{field}.geometry", ("Polygon", "MultiPolygon"), limits
    )
    shape = geojson.footprint(parsed, 0.0, limits, limits.max_area_km2)
    band = Band(limits.floor_m, float("inf"))
    if body.get("altitude") is not None:
        band = altitude(body["altitude"], f"{field}.altitude", limits)
    return Area(
        rule, party, group, shape, band, window(member(body, "valid", field), f"{field}.valid")
    )


def parse_movement(body: object, field: str = "body", limits: Limits = DEFAULT_LIMITS) -> Movement:
    name = text(member(body, "name", field), f"{field}.name")
    parsed = geojson.geometry(
        member(body, "route", field), f"{field}.route", ("LineString",), limits
    )
    half = radius(member(body, "corridor_m", field), f"{field}.corridor_m", limits)
    shape = geojson.footprint(parsed, half, limits, None)
    assert isinstance(body, dict)
    band = Band(limits.floor_m, limits.default_ceiling_m)
    if body.get("altitude") is not None:
        band = altitude(body["altitude"], f"{field}.altitude", limits)
    when = window(member(body, "time", field), f"{field}.time", open_end=False)
    return Movement(name, shape, band, when)


# -- pieces -----------------------------------------------------------------------------------


def text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSubmission(f"{field} must be a non-empty string", field=field)
    return value


def height(value: object, field: str, limits: Limits) -> float:
    h = number(value, field)
    if not limits.min_altitude_m <= h <= limits.max_altitude_m:
        raise refuse(
            f"{h:g} m is outside [{limits.min_altitude_m:g}, {limits.max_altitude_m:g}] m", field
        )
    return h


def altitude(body: object, field: str, limits: Limits) -> Band:
    lower = height(member(body, "lower_m", field), f"{field}.lower_m", limits)
    upper = height(member(body, "upper_m", field), f"{field}.upper_m", limits)
    if lower > upper:
        raise refuse(f"lower_m {lower:g} is above upper_m {upper:g}", f"{field}.lower_m")
    return Band(lower, upper)


def window(body: object, field: str, *, open_end: bool = True) -> Window:
    start = moment(member(body, "start", field), f"{field}.start")
    raw_end: Any = member(body, "end", field)
    if raw_end is None:
        if not open_end:
            raise refuse("is required", f"{field}.end")
        return Window(start, None)
    end = moment(raw_end, f"{field}.end")
    if end < start:
        raise refuse("ends before it starts", f"{field}.end")
    return Window(start, end)


def moment(value: object, field: str) -> datetime:
    """An ISO 8601 time with a zone, as :func:`parley.clock.parse` reads it."""
    try:
        return clock.parse(value, field)
    except BadRequest as exc:
        raise refuse(exc.detail.removeprefix(f"{field} "), field) from None
