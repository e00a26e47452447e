"""Properties of the position reader: arbitrary text is read or refused with a PositionError, and
every position parley prints (decimal, DMS, MGRS) reads back to where it was.

The tolerances follow from the printed precision, with pyproj's geodesic as the ruler:

- decimal, 5 places: at most 0.000005° per axis; a degree of latitude is at most 111,694 m (at
  the poles) and a degree of longitude at most 111,320 m (at the equator), so at most
  hypot(0.558, 0.557) = 0.79 m;
- DMS, tenths of a second: at most 0.05" = 1.39e-5° per axis, so at most hypot(1.552, 1.546)
  = 2.2 m;
- MGRS, 5+5 digits: the library truncates to the 1 m square (checked against pyproj's UTM
  below) and the reader answers the square's centre, at most half its diagonal, 0.7071 m on the
  grid; the UTM scale factor is at least 0.9996, so at most 0.7074 m on the ground: 0.71 m.
"""

from __future__ import annotations

import math
import warnings

import mgrs
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from parley.formats.coordinates import (
    Position,
    PositionError,
    decimal_text,
    dms_text,
    mgrs_text,
    read_position,
)

GEOD = Geod(ellps="WGS84")
DECIMAL_TOLERANCE_M = 0.79
DMS_TOLERANCE_M = 2.2
MGRS_TOLERANCE_M = 0.71

LATITUDES = st.floats(-90, 90, allow_nan=False)
LONGITUDES = st.floats(-180, 180, allow_nan=False)
# Zone and band edges, and the Norway and Svalbard exceptions, where a 1 m square can straddle
# two zones or bands: random floats would almost never land within a metre of one.
_NUDGE = st.sampled_from([0.0, 1e-9, -1e-9, 1e-7, -1e-7, 4e-6, -4e-6])
EDGE_LATITUDES = st.builds(
    lambda edge, nudge: max(-80.0, min(84.0, edge + nudge)),
    st.sampled_from([-80.0 + 8 * i for i in range(20)] + [84.0]),
    _NUDGE,
)
EDGE_LONGITUDES = st.builds(
    lambda edge, nudge: max(-180.0, min(180.0, edge + nudge)),
    st.sampled_from([-180.0 + 6 * i for i in range(61)] + [3.0, 9.0, 21.0, 33.0]),
    _NUDGE,
)
POINTS = st.tuples(LATITUDES, LONGITUDES) | st.tuples(
    EDGE_LATITUDES | LATITUDES, EDGE_LONGITUDES | LONGITUDES
)
_TYPED = "0123456789 .,;-+°'\"′″NSEWnsewCDKTUVX/:?@=&[]#%"


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


def _read(text: str) -> Position | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no library warning may reach the user either
            found = read_position(text)
    except PositionError as exc:
        assert exc.status == 400 and exc.detail
        return None
    assert math.isfinite(found.lat) and math.isfinite(found.lon)
    assert -90 <= found.lat <= 90 and -180 <= found.lon <= 180
    return found


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.text(_TYPED, max_size=40))
@example("http://[::1")
@example("https://[maps.example/@36.2,37.1")
def test_arbitrary_text_is_read_or_refused_with_a_position_error(text: str) -> None:
    _read(text)


@settings(max_examples=120, deadline=None)
@given(POINTS)
@example((36.0, 36.0))  # the zone 36/37 boundary runs through Syria
@example((36.2, 42.0))  # and the zone 37/38 boundary
@example((71.9999999, 25.0))  # a square straddling bands W and X
@example((63.99999999, 5.9999999))  # 32V, widened for Norway, against 31W
def test_every_printed_position_reads_back_within_its_precision(
    point: tuple[float, float],
) -> None:
    lat, lon = point
    for text, form, tolerance in (
        (decimal_text(lat, lon), "decimal", DECIMAL_TOLERANCE_M),
        (dms_text(lat, lon), "dms", DMS_TOLERANCE_M),
        (mgrs_text(lat, lon), "mgrs", MGRS_TOLERANCE_M),
    ):
        if not text:
            assert form == "mgrs" and not -80 <= lat <= 84  # UPS, not MGRS, near the poles
            continue
        if form == "mgrs" and -1e-6 < lat < 0:
            # Within about a centimetre south of the equator the library spells a point in
            # band M but in the square north of the equator, which the reader rightly refuses.
            continue
        found = _read(text)
        assert found is not None, f"{text!r}, printed for {point}, is refused"
        assert found.form == form
        assert metres((found.lat, found.lon), point) <= tolerance, (text, found)


@settings(max_examples=60, deadline=None)
@given(st.floats(-79.5, 55.9), st.floats(-179.9, 179.9))
def test_mgrs_digits_agree_with_pyproj_utm(lat: float, lon: float) -> None:
    """The independent oracle: outside the Norway and Svalbard exceptions, the printed digits
    are pyproj's UTM easting and northing truncated to the metre."""
    # Within a centimetre of a zone edge the library may pick either zone (it puts -1e-180
    # in zone 31); both spellings are right there.
    assume(abs(lon - 6 * round(lon / 6)) > 1e-7)
    zone = math.floor(lon / 6) + 31  # not (lon + 180) // 6: 180 - 1e-15 rounds to 180
    to_utm = Transformer.from_crs(4326, (32600 if lat >= 0 else 32700) + zone, always_xy=True)
    easting, northing = to_utm.transform(lon, lat)
    # Within a centimetre of a metre line the two may fall either side (the library rounds
    # latitudes within about 1e-7° of the equator to it).
    assume(min(easting % 1, 1 - easting % 1, northing % 1, 1 - northing % 1) > 0.01)
    text = mgrs_text(lat, lon)
    head, square, e, n = text.split(" ")
    assert int(head[:-1]) == zone, (lat, lon, text)
    assert (int(e), int(n)) == (int(easting) % 100_000, int(northing) % 100_000), (lat, lon, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=5).endswith(square + e + n)
