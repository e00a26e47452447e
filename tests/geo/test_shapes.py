"""Parsing and validation: every refusal names its field, down to the coordinate index."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import BadRequest, InvalidGeometry, InvalidSubmission
from parley.geo.geojson import Limits
from parley.geo.shapes import parse_area, parse_movement, parse_site, parse_volumes

T0 = "2026-11-26T08:00:00Z"
T1 = "2026-11-26T09:00:00Z"
SQUARE = [[37.10, 36.10], [37.20, 36.10], [37.20, 36.20], [37.10, 36.20], [37.10, 36.10]]
HOLE = [[37.14, 36.14], [37.16, 36.14], [37.16, 36.16], [37.14, 36.16], [37.14, 36.14]]


def volume(**change: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "footprint": {"type": "Polygon", "coordinates": [SQUARE]},
        "altitude": {"lower_m": 0, "upper_m": 3000},
        "time": {"start": T0, "end": T1},
    }
    v.update(change)
    return v


def operation(*volumes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "sweep", "volumes": list(volumes) or [volume()]}


def site(**change: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "category": "hospital",
        "name": "Al-Razi",
        "geometry": {"type": "Point", "coordinates": [37.15, 36.2]},
        "radius_m": 300,
        "valid": {"start": T0, "end": None},
    }
    s.update(change)
    return s


def area(**change: Any) -> dict[str, Any]:
    a: dict[str, Any] = {
        "rule": "no-fly",
        "party": "party-a",
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
        "valid": {"start": T0, "end": None},
    }
    a.update(change)
    return a


def movement(**change: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": "convoy 7",
        "route": {"type": "LineString", "coordinates": [[37.0, 36.0], [37.2, 36.1], [37.4, 36.1]]},
        "corridor_m": 250,
        "time": {"start": T0, "end": T1},
    }
    m.update(change)
    return m


def refused(call: Any, field: str, *, kind: type[BadRequest] = InvalidGeometry) -> str:
    with pytest.raises(kind) as caught:
        call()
    assert caught.value.extra["field"] == field, caught.value.detail
    assert caught.value.problem()["field"] == field
    return caught.value.detail


def footprint_with(coords: Any, kind: str = "Polygon") -> dict[str, Any]:
    return operation(volume(footprint={"type": kind, "coordinates": coords}))


F = "body.volumes[0].footprint"


# -- accepted ---------------------------------------------------------------------------------


def test_a_polygon_volume_parses() -> None:
    (v,) = parse_volumes(operation())
    assert v.footprint.kind == "polygon"
    assert v.footprint.buffer_m == 0
    assert v.altitude.lower_m == 0 and v.altitude.upper_m == 3000
    assert v.window.start.isoformat() == "2026-11-26T08:00:00+00:00"
    assert 95e6 < v.footprint.area_m2() < 105e6  # about 9 km x 11 km


def test_a_circle_volume_parses() -> None:
    body = operation(volume(footprint={"type": "Point", "coordinates": [37.1, 36.1]}, radius_m=500))
    (v,) = parse_volumes(body)
    assert v.footprint.kind == "point" and v.footprint.buffer_m == 500


def test_either_winding_and_holes_are_accepted() -> None:
    clockwise = SQUARE[::-1]
    (v,) = parse_volumes(footprint_with([clockwise, HOLE]))
    outer, hole = v.footprint.parts[0]
    # Stored counter-clockwise outside, clockwise for holes, whatever was sent.
    assert outer.tolist() == SQUARE
    assert hole.tolist() == HOLE[::-1]
    assert v.footprint.area_m2() < parse_volumes(operation())[0].footprint.area_m2()


def test_repeated_positions_and_heights_are_tolerated() -> None:
    ring = [[37.1, 36.1, 10.0], [37.1, 36.1], [37.2, 36.1], [37.2, 36.2], [37.1, 36.1]]
    (v,) = parse_volumes(footprint_with([ring]))
    assert len(v.footprint.edges) == 3


def test_site_defaults() -> None:
    s = parse_site(site())
    assert s.altitude.lower_m == -500 and s.altitude.upper_m == 3000
    assert s.window.end is None
    poly = parse_site(site(geometry={"type": "Polygon", "coordinates": [SQUARE]}, radius_m=None))
    assert poly.footprint.buffer_m == 0
    custom = Limits(default_ceiling_m=1500, floor_m=-300)
    high = parse_site(site(), limits=custom)
    assert (high.altitude.lower_m, high.altitude.upper_m) == (-300, 1500)
    assert parse_site(site(ceiling_m=800)).altitude.upper_m == 800


def test_area_rules() -> None:
    assert parse_area(area()).party == "party-a"
    everyone = parse_area(area(rule="no-operations", party=None))
    assert everyone.party is None and math.isinf(everyone.altitude.upper_m)
    group = parse_area(area(rule="delineation", group="G", party=None))
    assert group.group == "G"
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[SQUARE], [[[p[0] + 1, p[1]] for p in SQUARE]]],
    }
    assert len(parse_area(area(geometry=multi)).footprint.parts) == 2
    banded = parse_area(area(altitude={"lower_m": 0, "upper_m": 5000}))
    assert banded.altitude.upper_m == 5000


def test_movement() -> None:
    m = parse_movement(movement())
    assert m.footprint.kind == "line" and m.footprint.buffer_m == 250
    assert m.altitude.upper_m == 3000


# -- refused: the envelope ---------------------------------------------------------------------


def test_missing_members() -> None:
    body = operation()
    del body["volumes"][0]["altitude"]
    refused(lambda: parse_volumes(body), "body.volumes[0].altitude")
    refused(lambda: parse_volumes({"name": "x"}), "body.volumes")
    refused(lambda: parse_volumes([]), "body")
    refused(lambda: parse_volumes({"name": "x", "volumes": []}), "body.volumes")
    refused(lambda: parse_site(site(valid={"end": None})), "body.valid.start")
    refused(
        lambda: parse_volumes(operation(volume(time={"start": T0}))), "body.volumes[0].time.end"
    )


def test_names_must_be_text() -> None:
    refused(
        lambda: parse_volumes({"name": " ", "volumes": [volume()]}),
        "body.name",
        kind=InvalidSubmission,
    )
    refused(lambda: parse_site(site(category=7)), "body.category", kind=InvalidSubmission)
    refused(lambda: parse_area(area(rule="no-fly", party="")), "body.party", kind=InvalidSubmission)
    refused(lambda: parse_area(area(rule="delineation")), "body.group")
    refused(lambda: parse_area(area(rule="bombard")), "body.rule", kind=InvalidSubmission)


# -- refused: geometry --------------------------------------------------------------------------


def test_wrong_geojson_type() -> None:
    detail = refused(
        lambda: parse_volumes(footprint_with([[37, 36], [37.1, 36]], kind="LineString")),
        f"{F}.type",
    )
    assert "Polygon or Point" in detail
    refused(
        lambda: parse_movement(movement(route={"type": "Polygon", "coordinates": [SQUARE]})),
        "body.route.type",
    )
    refused(
        lambda: parse_area(area(geometry={"type": "Point", "coordinates": [37, 36]})),
        "body.geometry.type",
    )
    refused(lambda: parse_volumes(operation(volume(footprint="POINT(1 2)"))), F)


def test_unclosed_ring_names_the_last_position() -> None:
    ring = [*SQUARE[:-1], [37.1, 36.15]]
    detail = refused(lambda: parse_volumes(footprint_with([ring])), f"{F}.coordinates[0][4]")
    assert "not closed" in detail


def test_too_few_positions_or_vertices() -> None:
    refused(lambda: parse_volumes(footprint_with([SQUARE[:3]])), f"{F}.coordinates[0]")
    degenerate = [[37.1, 36.1], [37.2, 36.1], [37.1, 36.1], [37.2, 36.1], [37.1, 36.1]]
    detail = refused(lambda: parse_volumes(footprint_with([degenerate])), f"{F}.coordinates[0]")
    assert "three distinct" in detail
    refused(lambda: parse_volumes(footprint_with([])), f"{F}.coordinates")
    same = {"type": "LineString", "coordinates": [[37.0, 36.0], [37.0, 36.0]]}
    refused(lambda: parse_movement(movement(route=same)), "body.route.coordinates")
    refused(
        lambda: parse_area(area(geometry={"type": "MultiPolygon", "coordinates": []})),
        "body.geometry.coordinates",
    )


@pytest.mark.parametrize(
    ("position", "why"),
    [
        ([181.0, 36.0], "longitude"),
        ([-180.5, 36.0], "longitude"),
        ([37.0, 90.5], "latitude"),
        ([float("nan"), 36.0], "finite"),
        ([37.0, float("inf")], "finite"),
        ([True, 36.0], "number"),
        (["37", 36.0], "number"),
        ([37.0], "position"),
        ([37.0, 36.0, 1.0, 2.0], "position"),
        ({"lon": 37}, "position"),
    ],
)
def test_bad_positions_name_their_index(position: Any, why: str) -> None:
    ring = copy.deepcopy(SQUARE)
    ring[2] = position
    detail = refused(lambda: parse_volumes(footprint_with([ring])), f"{F}.coordinates[0][2]")
    assert why in detail


def test_point_positions() -> None:
    body = operation(volume(footprint={"type": "Point", "coordinates": [37.0, 99.0]}, radius_m=10))
    refused(lambda: parse_volumes(body), f"{F}.coordinates")


def test_too_many_vertices() -> None:
    limits = Limits(max_vertices=8)
    n = 12
    ring = [
        [37.0 + 0.01 * math.cos(2 * math.pi * k / n), 36.0 + 0.01 * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    ring.append(ring[0])
    detail = refused(
        lambda: parse_volumes(footprint_with([ring]), limits=limits), f"{F}.coordinates[0][12]"
    )
    assert "more than 8" in detail
    # Counted across rings: the hole tips it over.
    limits = Limits(max_vertices=7)
    refused(
        lambda: parse_volumes(footprint_with([SQUARE, HOLE]), limits=limits),
        f"{F}.coordinates[1][4]",
    )


def test_self_intersection_names_the_crossing_edge() -> None:
    bowtie = [[37.1, 36.1], [37.2, 36.2], [37.2, 36.1], [37.1, 36.2], [37.1, 36.1]]
    detail = refused(lambda: parse_volumes(footprint_with([bowtie])), f"{F}.coordinates[0][2]")
    assert "crosses itself" in detail and "coordinates[0][0]" in detail


def test_self_touching_ring_is_refused() -> None:
    # A figure eight that touches itself at one vertex.
    eight = [
        [37.0, 36.0],
        [37.1, 36.0],
        [37.05, 36.05],
        [37.1, 36.1],
        [37.0, 36.1],
        [37.05, 36.05],
        [37.0, 36.0],
    ]
    refused(lambda: parse_volumes(footprint_with([eight])), f"{F}.coordinates[0][4]")


def test_spike_doubling_back_is_refused() -> None:
    # Along a meridian, where the geodesic is the meridian itself: up to 36.3, back to 36.25.
    spike = [[37.1, 36.1], [37.2, 36.1], [37.2, 36.3], [37.2, 36.25], [37.1, 36.2], [37.1, 36.1]]
    refused(lambda: parse_volumes(footprint_with([spike])), f"{F}.coordinates[0][2]")


def test_index_counts_dropped_repeats() -> None:
    bowtie = [[37.1, 36.1], [37.1, 36.1], [37.2, 36.2], [37.2, 36.1], [37.1, 36.2], [37.1, 36.1]]
    refused(lambda: parse_volumes(footprint_with([bowtie])), f"{F}.coordinates[0][3]")


def test_holes() -> None:
    outside = [[p[0] + 0.5, p[1]] for p in HOLE]
    detail = refused(
        lambda: parse_volumes(footprint_with([SQUARE, outside])), f"{F}.coordinates[1]"
    )
    assert "not inside" in detail
    crossing = [[37.15, 36.15], [37.25, 36.15], [37.25, 36.16], [37.15, 36.16], [37.15, 36.15]]
    refused(lambda: parse_volumes(footprint_with([SQUARE, crossing])), f"{F}.coordinates[1]")
    overlapping = [[p[0] + 0.01, p[1]] for p in HOLE]
    detail = refused(
        lambda: parse_volumes(footprint_with([SQUARE, HOLE, overlapping])), f"{F}.coordinates[2]"
    )
    assert "overlaps hole 1" in detail
    on_edge = [[37.1, 36.14], [37.12, 36.14], [37.12, 36.16], [37.1, 36.16], [37.1, 36.14]]
    refused(lambda: parse_volumes(footprint_with([SQUARE, on_edge])), f"{F}.coordinates[1]")


def test_multipolygon_parts_must_not_overlap() -> None:
    shifted = [[p[0] + 0.05, p[1]] for p in SQUARE]
    geometry = {"type": "MultiPolygon", "coordinates": [[SQUARE], [shifted]]}
    detail = refused(lambda: parse_area(area(geometry=geometry)), "body.geometry.coordinates[1]")
    assert "overlaps polygon 0" in detail
    bowtie = [[37.1, 36.1], [37.2, 36.2], [37.2, 36.1], [37.1, 36.2], [37.1, 36.1]]
    geometry = {"type": "MultiPolygon", "coordinates": [[SQUARE], [bowtie]]}
    refused(lambda: parse_area(area(geometry=geometry)), "body.geometry.coordinates[1][0][2]")


def test_footprint_area_limit() -> None:
    big = [[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 36.0], [36.0, 35.0]]  # ~10,000 km^2
    detail = refused(lambda: parse_volumes(footprint_with([big])), f"{F}.coordinates")
    assert "2,500 km^2" in detail
    assert parse_area(area(geometry={"type": "Polygon", "coordinates": [big]}))
    circle = operation(
        volume(footprint={"type": "Point", "coordinates": [37, 36]}, radius_m=30_000)
    )
    refused(lambda: parse_volumes(circle), f"{F}.coordinates")
    tight = Limits(max_footprint_km2=50)
    refused(lambda: parse_volumes(operation(), limits=tight), f"{F}.coordinates")


def test_reach_limit() -> None:
    far = [[35.0, 32.0], [43.0, 32.0], [43.0, 32.01], [35.0, 32.01], [35.0, 32.0]]  # 750 km long
    refused(
        lambda: parse_area(
            area(geometry={"type": "Polygon", "coordinates": [far]}),
            limits=Limits(max_extent_m=300_000),
        ),
        "body.geometry.coordinates",
    )
    assert parse_area(area(geometry={"type": "Polygon", "coordinates": [far]}))
    long_route = {"type": "LineString", "coordinates": [[-20.0, 10.0], [10.0, 10.0]]}
    refused(lambda: parse_movement(movement(route=long_route)), "body.route.coordinates")


def test_antimeridian_is_refused() -> None:
    across = [[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0], [179.5, 10.0]]
    detail = refused(lambda: parse_volumes(footprint_with([across])), f"{F}.coordinates[0][1]")
    assert "antimeridian" in detail
    near = operation(
        volume(footprint={"type": "Point", "coordinates": [179.999, 0.0]}, radius_m=1000)
    )
    refused(lambda: parse_volumes(near), f"{F}.coordinates")
    # Right up to it, but not across, is fine.
    assert parse_volumes(
        operation(volume(footprint={"type": "Point", "coordinates": [179.9, 0.0]}, radius_m=1000))
    )


def test_poles_are_refused() -> None:
    polar = operation(
        volume(footprint={"type": "Point", "coordinates": [10.0, 84.99]}, radius_m=5000)
    )
    detail = refused(lambda: parse_volumes(polar), f"{F}.coordinates")
    assert "85" in detail
    south = [[10.0, -86.0], [11.0, -86.0], [11.0, -86.1], [10.0, -86.0]]
    refused(lambda: parse_volumes(footprint_with([south])), f"{F}.coordinates")
    assert parse_volumes(
        operation(volume(footprint={"type": "Point", "coordinates": [10.0, 84.9]}, radius_m=100))
    )


# -- refused: radius, altitude, time ------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -5, 0.5, float("nan"), float("inf"), 1e9, "100", None, True])
def test_bad_radius(bad: Any) -> None:
    body = operation(volume(footprint={"type": "Point", "coordinates": [37, 36]}, radius_m=bad))
    refused(lambda: parse_volumes(body), "body.volumes[0].radius_m")


def test_radius_rules() -> None:
    no_radius = operation(volume(footprint={"type": "Point", "coordinates": [37, 36]}))
    refused(lambda: parse_volumes(no_radius), "body.volumes[0].radius_m")
    refused(lambda: parse_volumes(operation(volume(radius_m=100))), "body.volumes[0].radius_m")
    refused(
        lambda: parse_site(
            site(radius_m=-1, geometry={"type": "Polygon", "coordinates": [SQUARE]})
        ),
        "body.radius_m",
    )
    assert parse_site(site(radius_m=0, geometry={"type": "Polygon", "coordinates": [SQUARE]}))
    refused(lambda: parse_site(site(radius_m=60_000)), "body.radius_m")
    refused(lambda: parse_movement(movement(corridor_m=0)), "body.corridor_m")


def test_altitude_rules() -> None:
    upside_down = volume(altitude={"lower_m": 2000, "upper_m": 1000})
    detail = refused(
        lambda: parse_volumes(operation(upside_down)), "body.volumes[0].altitude.lower_m"
    )
    assert "above upper_m" in detail
    refused(
        lambda: parse_volumes(operation(volume(altitude={"lower_m": 0, "upper_m": 1e7}))),
        "body.volumes[0].altitude.upper_m",
    )
    refused(
        lambda: parse_volumes(operation(volume(altitude={"lower_m": "low", "upper_m": 5}))),
        "body.volumes[0].altitude.lower_m",
    )
    refused(
        lambda: parse_volumes(operation(volume(altitude={"upper_m": 5}))),
        "body.volumes[0].altitude.lower_m",
    )
    assert parse_volumes(operation(volume(altitude={"lower_m": 500, "upper_m": 500})))
    refused(lambda: parse_site(site(ceiling_m=-600)), "body.ceiling_m")
    refused(
        lambda: parse_area(area(altitude={"lower_m": 9, "upper_m": 1})), "body.altitude.lower_m"
    )


def test_time_rules() -> None:
    backwards = volume(time={"start": T1, "end": T0})
    detail = refused(lambda: parse_volumes(operation(backwards)), "body.volumes[0].time.end")
    assert "before it starts" in detail
    naive = volume(time={"start": "2026-11-26T08:00:00", "end": T1})
    detail = refused(lambda: parse_volumes(operation(naive)), "body.volumes[0].time.start")
    assert "time zone" in detail
    refused(
        lambda: parse_volumes(operation(volume(time={"start": T0, "end": "tomorrow"}))),
        "body.volumes[0].time.end",
    )
    refused(
        lambda: parse_volumes(operation(volume(time={"start": 1764144000, "end": T1}))),
        "body.volumes[0].time.start",
    )
    refused(
        lambda: parse_volumes(operation(volume(time={"start": T0, "end": None}))),
        "body.volumes[0].time.end",
    )
    refused(lambda: parse_site(site(valid={"start": T1, "end": T0})), "body.valid.end")
    instant = parse_volumes(operation(volume(time={"start": T0, "end": T0})))[0]
    assert instant.window.start == instant.window.end
    other_zone = volume(time={"start": "2026-11-26T11:00:00+03:00", "end": T1})
    assert parse_volumes(operation(other_zone))[0].window.start.isoformat().endswith("+00:00")


def test_field_prefix_is_the_callers() -> None:
    body = {"operation": operation(volume(time={"start": T1, "end": T0}))}
    refused(
        lambda: parse_volumes(body["operation"], field="body.operation"),
        "body.operation.volumes[0].time.end",
    )


# -- properties ---------------------------------------------------------------------------------


@st.composite
def star_rings(draw: st.DrawFn) -> list[list[float]]:
    """Simple rings: vertices at increasing bearings around a centre in the Syria box."""
    lon = draw(st.floats(35.5, 42.5))
    lat = draw(st.floats(32.3, 37.5))
    n = draw(st.integers(3, 40))
    radius = draw(st.floats(0.001, 0.2))
    jitter = draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n))
    ring = [
        [
            lon + radius * j * math.cos(2 * math.pi * k / n),
            lat + radius * j * math.sin(2 * math.pi * k / n),
        ]
        for k, j in enumerate(jitter)
    ]
    return [*ring, ring[0]]


@settings(max_examples=60, deadline=None)
@given(star_rings(), st.booleans())
def test_simple_rings_parse_in_either_winding(ring: list[list[float]], flip: bool) -> None:
    (v,) = parse_volumes(footprint_with([ring[::-1] if flip else ring]))
    assert v.footprint.area_m2() > 0


@settings(max_examples=60, deadline=None)
@given(star_rings(), st.data())
def test_any_bad_coordinate_is_named(ring: list[list[float]], data: st.DataObject) -> None:
    i = data.draw(st.integers(1, len(ring) - 2))
    bad = data.draw(
        st.sampled_from([[200.0, 36.0], [37.0, -95.0], [float("nan"), 1.0], ["x", 1.0]])
    )
    ring = copy.deepcopy(ring)
    ring[i] = bad
    refused(lambda: parse_volumes(footprint_with([ring])), f"{F}.coordinates[0][{i}]")


@settings(max_examples=40, deadline=None)
@given(star_rings(), st.data())
def test_swapping_two_vertices_makes_a_bowtie_that_is_named(
    ring: list[list[float]], data: st.DataObject
) -> None:
    n = len(ring) - 1
    if n < 4:
        return
    ring = copy.deepcopy(ring[:-1])
    i = data.draw(st.integers(0, n - 3))
    ring[i + 1], ring[i + 2] = ring[i + 2], ring[i + 1]
    ring.append(ring[0])
    try:
        parse_volumes(footprint_with([ring]))
    except InvalidGeometry as exc:
        field = exc.extra["field"]
        assert field.startswith(f"{F}.coordinates[0][")
        index = int(field.rsplit("[", 1)[1].rstrip("]"))
        assert 0 <= index < len(ring)
    # (A swap does not always cross: a star with near-collinear neighbours can survive it.)
