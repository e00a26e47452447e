"""The area a hub serves: what lies wholly outside is refused, saying where the area is."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest
import shapely
from pyproj import Geod

from parley.geo.region import Region, RegionError

SYRIA = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def syria() -> Region:
    return Region.from_geojson(SYRIA, 50_000, "Syria")


def boundary_distance_km(lat: float, lon: float) -> float:
    """Geodesic distance to Syria's boundary, from its vertices densified to about 200 m."""
    area = Region.from_geojson(SYRIA).area
    edge = shapely.segmentize(area.boundary, 0.002)
    xy = shapely.get_coordinates(edge)
    _, _, d = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    return float(d.min()) / 1000


def test_inside_and_within_the_margin_pass(syria: Region) -> None:
    syria.check(shapely.Point(37.16, 36.2))  # Aleppo
    syria.check(shapely.Point(35.6, 33.3))  # Lebanon, 16 km from Syria: inside the margin


@pytest.mark.parametrize(
    ("lat", "lon", "swap"),
    [(37.16, 36.2, True), (36.2, 137.16, False), (54.19, 36.46, False)],
)
def test_outside_is_refused_with_the_distance_and_the_swap_hint(
    syria: Region, lat: float, lon: float, swap: bool
) -> None:
    with pytest.raises(RegionError) as caught:
        syria.check(shapely.Point(lon, lat))
    detail = caught.value.detail
    assert ("swap latitude and longitude" in detail) is swap
    km = float(re.search(r"([\d,]+\.\d) km away", detail).group(1).replace(",", ""))  # type: ignore[union-attr]
    expected = boundary_distance_km(lat, lon) - 50
    # The margin is drawn in an equal-area projection centred on Syria: within 1 % nearby.
    if expected < 500:
        assert km == pytest.approx(expected, rel=0.01, abs=0.3)
    else:
        assert km == pytest.approx(expected, rel=0.05)


def test_a_shape_crossing_into_the_area_is_not_wholly_outside(syria: Region) -> None:
    line = shapely.LineString([(30.0, 36.0), (37.16, 36.2)])
    syria.check(line)


def test_a_file_without_polygons_is_refused() -> None:
    with pytest.raises(Exception, match="no Polygon"):
        Region.from_geojson('{"type": "Point", "coordinates": [1, 2]}')
    with pytest.raises(Exception, match="not JSON"):
        Region.from_geojson("{")
