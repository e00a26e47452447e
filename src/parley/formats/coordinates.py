"""Positions as people type them, read strictly.

A protected site typed in the wrong place is worse than one refused, so every form is read by a
grammar of its own and anything else is refused with the reason in the user's own words:

    36.2012, 37.1612             decimal degrees, latitude first; also 36.2012N 37.1612E,
                                 N36.2012 E37.1612
    36°12'04.3"N 37°09'40.3"E    degrees, minutes, seconds (or decimal minutes); spaces, primes
                                 and letters before or after each half
    361204N 0370940E             the aviation form, DDMM[SS[.s]] and DDDMM[SS[.s]]
    37S CA 34570 07700           MGRS, 3+3 to 5+5 digits for a point

MGRS is decoded by the mgrs library and encoded back: a reference the library reads leniently
(a wrong latitude band, a square that does not exist in its zone) does not come back the same, and
is refused. A reference names a square, so the position read is its centre.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import mgrs

from parley.errors import BadRequest
from parley.formats.mgrs_squares import corner_spelt_so, spelt
from parley.geo.places import near

FORMS = (
    'decimal degrees "36.2012, 37.1612" or "36.2012N 37.1612E", '
    'DMS "36°12\'04\\"N 37°09\'40\\"E", aviation "361204N 0370940E" '
    'or MGRS "37S CA 34570 07700"'
)

MIN_POINT_DIGITS = 3  # per axis: a 100 m square; coarser names an area, not a site


class PositionError(BadRequest):
    title = "Unreadable position"
    slug = "unreadable-position"


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    form: str  # decimal, dms, aviation, mgrs
    precision_m: float | None = None  # the MGRS square's side, when read from MGRS


def parse_position(text: str) -> tuple[float, float]:
    """(latitude, longitude) of a point typed in any accepted form."""
    found = read_position(text)
    return found.lat, found.lon


def read_position(text: str) -> Position:
    if not isinstance(text, str) or not text.strip():
        raise PositionError(f"no position given: type {FORMS}", field="position")
    original = text
    cleaned = _normalise(text)
    for reader in (_url, _plus_code, _mgrs, _aviation, _hemispheres, _decimal):
        found = reader(cleaned, original)
        if found is not None:
            return found
    raise PositionError(f"cannot read a position from {original!r}: type {FORMS}", field="position")


# -- normalising ----------------------------------------------------------------------------------

_SYMBOLS = {
    "′": "'",
    "’": "'",
    "‘": "'",
    "´": "'",
    "`": "'",
    "″": '"',
    "“": '"',
    "”": '"',
    "º": "°",
    "˚": "°",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "−": "-",
    "–": "-",
}


def _normalise(text: str) -> str:
    out = "".join(_SYMBOLS.get(ch, ch) for ch in text.strip())
    out = out.replace("''", '"')
    return re.sub(r"\s+", " ", out).upper()


def _refuse(message: str) -> PositionError:
    return PositionError(message, field="position")


# -- links and plus codes -------------------------------------------------------------------------

_PAIR = re.compile(r"^(-?\d{1,3}(?:\.\d+)?),\s*(-?\d{1,3}(?:\.\d+)?)")


def _url(cleaned: str, original: str) -> Position | None:
    if "://" not in original and not original.lower().startswith(("www.", "maps.", "goo.gl")):
        return None
    try:
        parts = urlsplit(original.strip())
    except ValueError:  # "Invalid IPv6 URL", on an unclosed "[" in the host
        parts = urlsplit("")
    query = parse_qs(parts.query)
    candidates = [*query.get("q", []), *query.get("query", []), *query.get("ll", [])]
    at = re.search(r"@(-?\d[\d.]*,-?\d[\d.]*)", unquote(parts.path))
    if at:
        candidates.insert(0, at.group(1))
    for candidate in candidates:
        pair = _PAIR.match(unquote(candidate).strip())
        if pair:
            lat, lon = float(pair.group(1)), float(pair.group(2))
            return Position(*_in_range(lat, lon, original), form="decimal")
    raise _refuse(
        f"{original!r} is a link without a position in it: open it, copy the coordinates "
        f"and type {FORMS}"
    )


_PLUS = re.compile(r"^[23456789CFGHJMPQRVWX]{2,8}\+[23456789CFGHJMPQRVWX]{0,3}(?: .*)?$")


def _plus_code(cleaned: str, original: str) -> Position | None:
    if not _PLUS.match(cleaned):
        return None
    raise _refuse(f"{original!r} is a plus code, which parley does not read: type {FORMS}")


# -- MGRS -----------------------------------------------------------------------------------------

_MGRS = re.compile(r"^(\d{1,2}) ?([A-Z]) ?([A-Z])([A-Z]) ?(\d*) ?(\d*)$")
_BANDS = "CDEFGHJKLMNPQRSTUVWX"


def _mgrs(cleaned: str, original: str) -> Position | None:
    match = _MGRS.match(cleaned)
    if match is None:
        return None
    zone_text, band, col, row, first, second = match.groups()
    zone = int(zone_text)
    if not 1 <= zone <= 60:
        raise _refuse(f"MGRS {original!r}: zone {zone} does not exist (zones are 1 to 60)")
    if band not in _BANDS:
        raise _refuse(f"MGRS {original!r}: {band} is not a latitude band (C to X, without I, O)")
    if col in "IO" or row in "IO":
        raise _refuse(f"MGRS {original!r}: 100 km square letters never include I or O")
    easting, northing = _split_digits(first, second, original)
    digits = len(easting)
    if digits < MIN_POINT_DIGITS:
        size = {0: "100 km", 1: "10 km", 2: "1 km"}[digits]
        raise _refuse(
            f"MGRS {original!r} names a {size} square, not a point: give at least 3+3 digits "
            "for a site, or notify a polygon"
        )
    reference = f"{zone}{band}{col}{row}{easting}{northing}"
    lat, lon = _mgrs_centre(reference, original)
    _same_reference(reference, zone, band, col + row, lat, lon, original)
    return Position(lat, lon, form="mgrs", precision_m=10.0 ** (5 - digits))


def _split_digits(first: str, second: str, original: str) -> tuple[str, str]:
    if second:
        if len(first) != len(second):
            raise _refuse(
                f"MGRS {original!r}: the easting {first} has {len(first)} digits and the northing "
                f"{second} has {len(second)}; both need the same number (1 to 5)"
            )
        return first, second
    if len(first) % 2:
        raise _refuse(
            f"MGRS {original!r}: {len(first)} digits cannot be split into an easting and a "
            "northing of the same length"
        )
    if len(first) > 10:
        raise _refuse(f"MGRS {original!r}: at most 5+5 digits (1 m)")
    half = len(first) // 2
    return first[:half], first[half:]


def _mgrs_centre(reference: str, original: str) -> tuple[float, float]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the library warns, then answers, on a wrong band
            # mgrs 1.6 answers the centre of the square (checked against pyproj in the tests).
            lat, lon = mgrs.MGRS().toLatLon(reference)
    except Exception:  # the library raises its own bare error type with C-level text
        raise _refuse(
            f"MGRS {original!r} does not exist: check the zone, band and 100 km square letters"
        ) from None
    return float(lat), float(lon)


def _same_reference(
    reference: str, zone: int, band: str, square: str, lat: float, lon: float, original: str
) -> None:
    digits = (len(reference) - len(str(zone)) - 3) // 2
    found = spelt(lat, lon, digits)
    if found is None:  # the library answered something that is not MGRS: trust nothing
        raise _refuse(f"MGRS {original!r} cannot be checked: check the letters and digits")
    expected = (zone, band, square, reference[-2 * digits :])
    if found == expected or corner_spelt_so(reference, digits, expected):
        return
    if found[0] == zone and found[2] == square and found[1] != band:
        raise _refuse(
            f"MGRS {original!r}: latitude band {band} does not match the square, which lies in "
            f"band {found[1]} (latitude {lat:.4f}°): check the band letter"
        )
    raise _refuse(
        f"MGRS {original!r}: the 100 km square {square} does not lie in zone {zone}{band} "
        f"(read literally it is {found[0]}{found[1]} {found[2]} {found[3]}): check the zone "
        "and the square letters"
    )


# -- aviation: 361204N 0370940E ------------------------------------------------------------------

_AVIATION = re.compile(r"^(\d{4,6}(?:\.\d+)?)([NS]) ?,? ?(\d{5,7}(?:\.\d+)?)([EW])$")


def _aviation(cleaned: str, original: str) -> Position | None:
    match = _AVIATION.match(cleaned)
    if match is None:
        return None
    lat = _packed(match.group(1), 2, original) * (-1 if match.group(2) == "S" else 1)
    lon = _packed(match.group(3), 3, original) * (-1 if match.group(4) == "W" else 1)
    return Position(*_in_range(lat, lon, original), form="aviation")


def _packed(value: str, degree_digits: int, original: str) -> float:
    whole, _, fraction = value.partition(".")
    if len(whole) not in (degree_digits + 2, degree_digits + 4):
        axis = "latitude" if degree_digits == 2 else "longitude"
        raise _refuse(
            f"{original!r}: the {axis} {value} should be {'D' * degree_digits}MM or "
            f"{'D' * degree_digits}MMSS"
        )
    degrees = int(whole[:degree_digits])
    minutes = int(whole[degree_digits : degree_digits + 2])
    seconds = float(whole[degree_digits + 2 :] + ("." + fraction if fraction else "") or 0)
    return _sexagesimal(degrees, minutes, seconds, original)


# -- hemispheres: decimal or DMS with N/S/E/W ---------------------------------------------------

_HALF = r"[0-9.°'\" ]+?"
_SUFFIX = re.compile(rf"^({_HALF}) ?([NSEW]) ?[,;/]? ?({_HALF}) ?([NSEW])$")
_PREFIX = re.compile(rf"^([NSEW]) ?({_HALF}) ?[,;/]? ?([NSEW]) ?({_HALF})$")
_FIELDS = re.compile(r"^(\d+(?:\.\d+)?)[° ]*(?:(\d+(?:\.\d+)?)['′ ]*)?(?:(\d+(?:\.\d+)?)[\"]?)? *$")


def _hemispheres(cleaned: str, original: str) -> Position | None:
    if re.fullmatch(r"[-+\d., ;]*\dE[-+]?\d[-+\d., ;]*", cleaned):
        raise _refuse(f"{original!r}: write the degrees out in full, without an exponent")
    letters = re.findall(r"[NSEW]", cleaned)
    if not letters or re.search(r"[A-DF-MO-RT-VX-Z]", cleaned):
        return None
    if len(letters) != 2:
        raise _refuse(
            f"{original!r}: give a hemisphere letter with both halves (N or S for the latitude, "
            "E or W for the longitude), or none and signed decimal degrees"
        )
    suffix = _SUFFIX.match(cleaned)
    prefix = _PREFIX.match(cleaned)
    if suffix:
        halves = [(suffix.group(2), suffix.group(1)), (suffix.group(4), suffix.group(3))]
    elif prefix:
        halves = [(prefix.group(1), prefix.group(2)), (prefix.group(3), prefix.group(4))]
    else:
        raise _refuse(
            f"cannot read {original!r}: put each hemisphere letter before or after its half"
        )
    axes: dict[str, float] = {}
    for letter, half in halves:
        axis = "lat" if letter in "NS" else "lon"
        if axis in axes:
            word = "latitudes" if axis == "lat" else "longitudes"
            raise _refuse(f"{original!r} gives two {word}: one half needs N or S, the other E or W")
        axes[axis] = _degrees(half.strip(), original) * (-1 if letter in "SW" else 1)
    form = "dms" if re.search(r"['\"]|\d[° ]+\d", cleaned) else "decimal"
    return Position(*_in_range(axes["lat"], axes["lon"], original), form=form)


def _degrees(half: str, original: str) -> float:
    fields = _FIELDS.match(half)
    if fields is None:
        raise _refuse(f"{original!r}: cannot read {half!r} as degrees, minutes and seconds")
    d, m, s = fields.groups()
    if (m is not None and "." in d) or (s is not None and "." in m):
        raise _refuse(f"{original!r}: only the last of degrees, minutes, seconds may have decimals")
    return _sexagesimal(float(d), float(m or 0), float(s or 0), original)


def _sexagesimal(d: float, m: float, s: float, original: str) -> float:
    if m >= 60:
        raise _refuse(f"{original!r}: {m:g} minutes; minutes must be below 60")
    if s >= 60:
        raise _refuse(f"{original!r}: {s:g} seconds; seconds must be below 60")
    return d + m / 60 + s / 3600


# -- plain decimal: lat, lon ----------------------------------------------------------------------

_DECIMAL = re.compile(r"^([+-]?\d+(?:\.\d+)?)(?: ?[,;] ?| )([+-]?\d+(?:\.\d+)?)$")
_COMMA_DECIMALS = re.compile(r"^[+-]?\d+,\d+ [+-]?\d+,\d+$")


def _decimal(cleaned: str, original: str) -> Position | None:
    if _COMMA_DECIMALS.match(cleaned):
        dotted = cleaned.replace(",", ".")
        raise _refuse(
            f"{original!r} uses commas as decimal separators: type {dotted.replace(' ', ', ')}"
        )
    match = _DECIMAL.match(cleaned)
    if match is None:
        if re.search(r"[°'\"]", cleaned):
            raise _refuse(
                f"{original!r}: degrees, minutes and seconds need hemisphere letters "
                "(N or S, E or W) on both halves"
            )
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    return Position(*_in_range(lat, lon, original), form="decimal")


def _in_range(lat: float, lon: float, original: str) -> tuple[float, float]:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise _refuse(f"{original!r} is not a finite position")
    if abs(lat) > 90:
        hint = " (did you give the longitude first?)" if abs(lon) <= 90 else ""
        raise _refuse(f"{original!r}: latitude {lat:g} is beyond ±90°{hint}")
    if abs(lon) > 180:
        raise _refuse(f"{original!r}: longitude {lon:g} is beyond ±180°")
    return lat, lon


# -- echoing what was understood ------------------------------------------------------------------


def decimal_text(lat: float, lon: float) -> str:
    return f"{lat:.5f}, {lon:.5f}"


def dms_text(lat: float, lon: float) -> str:
    def part(value: float, positive: str, negative: str) -> str:
        # Whole tenths of a second, so rounding can never print 60 seconds.
        tenths = round(abs(value) * 36000)
        d, rest = divmod(tenths, 36000)
        m, s = divmod(rest, 600)
        return f"{d}°{m:02d}′{s / 10:04.1f}″{positive if value >= 0 else negative}"

    return f"{part(lat, 'N', 'S')} {part(lon, 'E', 'W')}"


def mgrs_text(lat: float, lon: float) -> str:
    """10-digit MGRS, grouped as people write it (37S CA 34576 07700)."""
    if not -80 <= lat <= 84:
        return ""  # the polar regions are UPS, not MGRS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=5)
    found = re.match(r"^0*(\d{1,2}[A-Z])([A-Z]{2})(\d{5})(\d{5})$", raw)
    return " ".join(found.groups()) if found else ""


def echo(lat: float, lon: float) -> dict[str, object]:
    """A position in every form the field uses, and where it is in words."""
    nearby = near(lat, lon)
    return {
        "latitude": round(lat, 7),
        "longitude": round(lon, 7),
        "decimal": decimal_text(lat, lon),
        "dms": dms_text(lat, lon),
        "mgrs": mgrs_text(lat, lon),
        "near": nearby.words() if nearby else None,
    }


def echo_line(lat: float, lon: float) -> str:
    found = echo(lat, lon)
    parts = [str(found["decimal"]), str(found["dms"]), str(found["mgrs"]), str(found["near"] or "")]
    return " · ".join(p for p in parts if p)
