"""Sites from spreadsheets (CSV or .xlsx), read strictly, one row at a time.

Notification today runs on spreadsheets, so the columns are matched leniently (English names,
and the headers of OCHA's humanitarian notification forms in English or Arabic) but the cells are
not: a position goes through the hub's own position reader, a time needs its zone, a formula is
refused rather than trusted for its cached value, and a file in a legacy encoding is named, never
guessed. A bad row is refused on its own with its row and column; a bad file is refused whole,
before any row.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from parley import clock
from parley.errors import BadRequest
from parley.formats.coordinates import read_position
from parley.formats.sheet_files import (
    Formula,
    SpreadsheetError,
    read_table,
)
from parley.formats.sheet_headers import CATEGORY_WORDS, COLUMN_NAMES, match_headers
from parley.records.notices import CATEGORIES


@dataclass(frozen=True)
class Refusal:
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str  # the header as written in the file, or the field when it has no column
    reason: str


@dataclass(frozen=True)
class SiteRow:
    row: int
    name: str
    category: str
    lat: float
    lon: float
    radius_m: float
    valid_from: str | None
    valid_until: str | None
    audience: str | list[str] | None

    @property
    def import_key(self) -> str:
        """The same row gives the same key on every import, so a re-import is recognised."""
        text = f"{self.name.strip()}\x1f{self.category}\x1f{self.lat:.6f}\x1f{self.lon:.6f}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def body(self, now: str) -> dict[str, Any]:
        return {
            "category": self.category,
            "name": self.name,
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "radius_m": self.radius_m,
            "valid": {"start": self.valid_from or now, "end": self.valid_until},
            "import_key": self.import_key,
        }


@dataclass
class Sheet:
    mapping: dict[str, str]  # field -> header as written
    ignored: list[str]  # headers matched to nothing
    rows: list[SiteRow] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    encoding: str = "utf-8"
    headers: list[str] = field(default_factory=list)
    cells: dict[int, list[object]] = field(default_factory=dict)  # as read, for the refusals file


# -- reading cells into sites ---------------------------------------------------------------------


class _RowError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        self.reason = reason


def read_sites(
    path: Path,
    *,
    encoding: str | None = None,
    default_radius_m: float | None = None,
    default_category: str | None = None,
) -> Sheet:
    headers, rows, used = read_table(path, encoding)
    found, ignored = match_headers(headers)
    missing = []
    if "name" not in found:
        missing.append("a name (e.g. 'Facility name')")
    if "category" not in found and default_category is None:
        missing.append("a category (e.g. 'Type of facility'), or --category")
    if not ("lat" in found and "lon" in found) and "position" not in found:
        missing.append("a position: 'Latitude' and 'Longitude', or one 'Coordinates'/'MGRS'")
    if "radius" not in found and default_radius_m is None:
        missing.append("a radius in metres (e.g. 'Radius (m)'), or --radius")
    if missing:
        raise SpreadsheetError(
            f"{path.name}: no column for {'; '.join(missing)}. Headers found: "
            + ", ".join(repr(h) for h in headers if h)
        )
    sheet = Sheet(
        {k: headers[i] for k, i in found.items()}, ignored, encoding=used, headers=headers
    )
    for number, cells in rows:
        sheet.cells[number] = cells
        try:
            sheet.rows.append(
                _site(number, cells, found, headers, default_radius_m, default_category)
            )
        except _RowError as exc:
            sheet.refusals.append(Refusal(number, exc.column, exc.reason))
    return sheet


def _site(
    number: int,
    cells: list[object],
    found: dict[str, int],
    headers: list[str],
    default_radius_m: float | None,
    default_category: str | None,
) -> SiteRow:
    def cell(name: str) -> object:
        i = found.get(name)
        value = cells[i] if i is not None and i < len(cells) else None
        if isinstance(value, Formula):
            raise _RowError(
                headers[i] if i is not None else name,
                f"a formula ({value.text[:60]}): type the value itself",
            )
        if isinstance(value, str):
            if value.startswith("="):
                raise _RowError(
                    headers[i] if i is not None else name,
                    f"a formula ({value[:60]}): type the value itself",
                )
            value = value.strip() or None
        return value

    def column(name: str) -> str:
        i = found.get(name)
        return headers[i] if i is not None else COLUMN_NAMES[name]

    # Read every cell first, so a formula anywhere in the row refuses the row.
    values = {name: cell(name) for name in found}

    name = values.get("name")
    if name is None:
        raise _RowError(column("name"), "no name")
    name = str(name)

    raw_category = values.get("category")
    if raw_category is None and default_category is None:
        raise _RowError(column("category"), "no category")
    category = _category(str(raw_category) if raw_category is not None else str(default_category))
    if category is None:
        raise _RowError(
            column("category"),
            f"unknown category {raw_category!r}: use one of {', '.join(CATEGORIES)}",
        )

    lat, lon = _position(values, column)

    raw_radius = values.get("radius")
    if raw_radius is None:
        if default_radius_m is None:
            raise _RowError(column("radius"), "no radius")
        radius = default_radius_m
    else:
        radius = _number(raw_radius, column("radius"), "the radius")
    if not radius > 0:
        raise _RowError(column("radius"), f"radius {radius:g} m: a protected radius is above 0")

    valid_from = _moment(values.get("valid_from"), column("valid_from"))
    valid_until = _moment(values.get("valid_until"), column("valid_until"))
    raw_audience = values.get("audience")
    audience: str | list[str] | None = None
    if raw_audience is not None:
        text = str(raw_audience).strip()
        audience = "all" if text.lower() == "all" else [p for p in re.split(r"[\s,;]+", text) if p]
    return SiteRow(number, name, category, lat, lon, radius, valid_from, valid_until, audience)


def _category(text: str) -> str | None:
    key = " ".join(re.sub(r"[_\-]+", " ", text.strip().lower()).split())
    dashed = key.replace(" ", "-")
    if dashed in CATEGORIES:
        return dashed
    if key.endswith("s") and key[:-1].replace(" ", "-") in CATEGORIES:
        return key[:-1].replace(" ", "-")
    return CATEGORY_WORDS.get(key)


def _position(values: dict[str, object], column: Any) -> tuple[float, float]:
    lat, lon = values.get("lat"), values.get("lon")
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            missing = "lat" if lat is None else "lon"
            raise _RowError(column(missing), "no value (the other coordinate is given)")
        typed, where = f"{_text(lat)}, {_text(lon)}", f"{column('lat')}/{column('lon')}"
    elif values.get("position") is not None:
        typed, where = _text(values["position"]), column("position")
    else:
        raise _RowError(
            column("position") if "position" in values else column("lat"), "no position"
        )
    try:
        found = read_position(typed)
    except BadRequest as exc:
        raise _RowError(where, exc.detail) from None
    return found.lat, found.lon


def _text(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _number(value: object, column: str, what: str) -> float:
    if isinstance(value, bool):
        raise _RowError(column, f"{what} is not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        raise _RowError(column, f"{what} is not a number: {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _RowError(column, f"{what} is not a finite number: {value!r}")
    return number


def _moment(value: object, column: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date | time):
        # Spreadsheet dates carry no zone: refused rather than read as UTC or local time.
        raise _RowError(
            column,
            f"{value} has no time zone: type it as text with its zone, "
            "e.g. 2026-03-01T00:00:00Z or 2026-03-01T02:00:00+03:00",
        )
    try:
        return clock.iso(clock.parse(str(value), column))
    except BadRequest as exc:
        raise _RowError(column, exc.detail.removeprefix(f"{column} ")) from None
