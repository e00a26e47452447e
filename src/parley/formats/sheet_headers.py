"""What a spreadsheet's headers and category words mean: English names and the headers of OCHA's
humanitarian notification forms (English or Arabic), matched after normalising case, accents and
punctuation."""

from __future__ import annotations

import re
import unicodedata

# The fields a row may fill, and the headers each is known by (after normalising: lower case,
# punctuation as spaces). OCHA notification forms name them "Facility name", "Type of facility",
# "Latitude", "Longitude", "Coordinates", "MGRS" and so on.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "site",
        "site name",
        "facility",
        "facility name",
        "name of facility",
        "name of the facility",
        "name of site",
        "location name",
        "premises",
        "premises name",
        "building name",
        "الاسم",
        "اسم المنشأة",
        "اسم الموقع",
    ),
    "category": (
        "category",
        "type",
        "kind",
        "site type",
        "type of site",
        "facility type",
        "type of facility",
        "facility category",
        "site category",
        "الفئة",
        "نوع المنشأة",
        "نوع الموقع",
    ),
    "lat": (
        "lat",
        "latitude",
        "y",
        "lat dd",
        "latitude dd",
        "latitude decimal degrees",
        "lat y",
        "خط العرض",
    ),
    "lon": (
        "lon",
        "long",
        "lng",
        "longitude",
        "x",
        "lon dd",
        "longitude dd",
        "longitude decimal degrees",
        "long x",
        "lon x",
        "خط الطول",
    ),
    "position": (
        "position",
        "coordinates",
        "coordinate",
        "gps",
        "gps coordinates",
        "location",
        "location coordinates",
        "mgrs",
        "mgrs coordinates",
        "mgrs grid reference",
        "grid",
        "grid reference",
        "lat lon",
        "lat long",
        "latlong",
        "latitude longitude",
        "الإحداثيات",
        "الموقع",
    ),
    "radius": (
        "radius",
        "radius m",
        "radius metres",
        "radius meters",
        "radius in metres",
        "radius in meters",
        "protected radius",
        "protected radius m",
        "buffer",
        "buffer m",
        "نصف القطر",
    ),
    "valid_from": ("valid from", "valid start", "start", "from", "start date", "valid since"),
    "valid_until": (
        "valid until",
        "valid to",
        "valid end",
        "end",
        "until",
        "end date",
        "expiry",
        "expires",
    ),
    "audience": ("audience", "share with", "shared with", "visible to"),
}
COLUMN_NAMES = {
    "name": "name",
    "category": "category",
    "lat": "latitude",
    "lon": "longitude",
    "position": "position",
    "radius": "radius (m)",
    "valid_from": "valid from",
    "valid_until": "valid until",
    "audience": "audience",
}
# Words field sheets use for a category; anything else is refused with the list, never guessed.
CATEGORY_WORDS = {
    "clinic": "health-post",
    "health centre": "health-post",
    "health center": "health-post",
    "primary health care centre": "health-post",
    "primary health care center": "health-post",
    "phc": "health-post",
    "idp camp": "camp",
    "idp site": "camp",
    "collective shelter": "shelter",
    "collective centre": "shelter",
    "collective center": "shelter",
    "office": "humanitarian-office",
    "water point": "water",
    "water station": "water",
}


def normalise_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\(.*?\)|\[.*?\]", lambda m: " " + m.group(0)[1:-1] + " ", text)
    return " ".join(re.sub(r"[^0-9a-z\u0621-\u064a]+", " ", text).split())


def match_headers(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Each field to the index of its column; the headers matched to nothing."""
    lookup = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    ignored: list[str] = []
    for i, header in enumerate(headers):
        key = normalise_header(header)
        name = lookup.get(key)
        if name is None and key:
            # "Latitude (WGS84)", "Longitude E": the first word decides, if it names one field.
            name = (
                lookup.get(key.split()[0]) if key.split()[0] in ("latitude", "longitude") else None
            )
        if name is None or name in found:
            if header.strip():
                ignored.append(header)
            continue
        found[name] = i
    return found, ignored
