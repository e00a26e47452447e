"""Positions as people type them: decimal degrees, degrees-minutes-seconds, or MGRS."""

from __future__ import annotations

import re

import mgrs

from parley.errors import BadRequest

_DMS = re.compile(
    r"""(?P<deg>\d{1,3}(?:\.\d+)?)\s*[°d\s]\s*
        (?:(?P<min>\d{1,2}(?:\.\d+)?)\s*['′m\s]\s*)?
        (?:(?P<sec>\d{1,2}(?:\.\d+)?)\s*(?:["″s]|'')\s*)?
        (?P<hemi>[NSEW])""",
    re.VERBOSE | re.IGNORECASE,
)


def _check(lat: float, lon: float, text: str) -> tuple[float, float]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest(f"position out of range (latitude ±90, longitude ±180): {text!r}")
    return lat, lon


def parse_position(text: str) -> tuple[float, float]:
    """(latitude, longitude) from "36.2, 37.16", "36°12'07\"N 37°09'40\"E" or an MGRS string."""
    cleaned = text.strip()
    decimal = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*", cleaned)
    if decimal:
        return _check(float(decimal.group(1)), float(decimal.group(2)), text)
    parts = list(_DMS.finditer(cleaned))
    if len(parts) == 2:
        values: dict[str, float] = {}
        for part in parts:
            value = (
                float(part["deg"]) + float(part["min"] or 0) / 60 + float(part["sec"] or 0) / 3600
            )
            hemi = part["hemi"].upper()
            axis = "lat" if hemi in "NS" else "lon"
            values[axis] = -value if hemi in "SW" else value
        if set(values) == {"lat", "lon"}:
            return _check(values["lat"], values["lon"], text)
    compact = cleaned.replace(" ", "").upper()
    if re.fullmatch(r"\d{1,2}[C-X][A-Z]{2}(\d{2}){0,5}", compact):
        try:
            lat, lon = mgrs.MGRS().toLatLon(compact)
        except Exception as exc:  # the mgrs library raises bare exceptions
            raise BadRequest(f"not a valid MGRS reference: {text!r} ({exc})") from None
        return _check(float(lat), float(lon), text)
    raise BadRequest(
        f"cannot read a position from {text!r}: give decimal degrees (lat, lon), "
        "DMS (36°12'07\"N 37°09'40\"E) or MGRS (37SCA1234567890)"
    )
