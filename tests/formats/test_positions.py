"""The position reader against the shared table of what tired users type.

Expected positions are checked with pyproj (geodesic distance, UTM for MGRS), never with the mgrs
library the reader uses.
"""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import mgrs
import pytest
from pyproj import Geod, Transformer

from parley.formats.coordinates import PositionError, read_position

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "data" / "positions.json").read_text(encoding="utf-8")
)["cases"]
GEOD = Geod(ellps="WGS84")


def expected(case: dict[str, Any]) -> tuple[float, float]:
    if "utm" in case:
        u = case["utm"]
        epsg = (32700 if u["south"] else 32600) + u["zone"]
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(
            u["easting"], u["northing"]
        )
        return lat, lon
    return case["lat"], case["lon"]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert sum("refused" in c for c in CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[repr(c["input"]) for c in CASES])
def test_each_case_is_read_right_or_refused_with_its_reason(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning may reach the user
        if "refused" in case:
            with pytest.raises(PositionError) as caught:
                read_position(case["input"])
            message = caught.value.detail
            assert case["refused"] in message
            for internal in ("Error in", "Traceback", "MGRSError", "Convert_"):
                assert internal not in message
            return
        found = read_position(case["input"])
    assert metres((found.lat, found.lon), expected(case)) <= case["tolerance_m"]


def test_mgrs_of_random_points_decodes_to_the_square_centre() -> None:
    """References built from pyproj's UTM digits (letters from the library) come back right."""
    rng = random.Random(20261129)
    encoder = mgrs.MGRS()
    for _ in range(300):
        lat, lon = rng.uniform(32.5, 37.5), rng.uniform(35.5, 42.0)
        zone = int((lon + 180) // 6) + 1
        to_utm = Transformer.from_crs(4326, 32600 + zone, always_xy=True)
        easting, northing = to_utm.transform(lon, lat)
        digits = rng.choice([3, 4, 5])
        cell = 10 ** (5 - digits)
        e = int(easting % 100_000) // cell
        n = int(northing % 100_000) // cell
        letters = encoder.toMGRS(lat, lon, MGRSPrecision=0)[-3:]  # band and square only
        reference = f"{zone}{letters} {e:0{digits}d} {n:0{digits}d}"
        found = read_position(reference)
        centre_e = (easting // cell) * cell + cell / 2
        centre_n = (northing // cell) * cell + cell / 2
        got_e, got_n = to_utm.transform(found.lon, found.lat)
        assert abs(got_e - centre_e) < 0.01 and abs(got_n - centre_n) < 0.01, reference
        assert found.precision_m == cell
