"""Sites from spreadsheets (CSV or .xlsx), read strictly, one row at a time.

Notification today runs on spreadsheets, so the columns are matched leniently (English names,
and the headers of OCHA's humanitarian notification forms in English or Arabic) but the cells are
not: a position goes through the hub's own position reader, a time needs its zone, a formula is
refused rather than trusted for its cached value, and a file in a legacy encoding is named, never
guessed. A bad row is refused on its own with its row and column; a bad file is refused whole,
before any row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from parley import clock
from parley.errors import BadRequest
from parley.formats.coordinates import read_position
from parley.records.notices import CATEGORIES

MAX_BYTES = 20 * 1024 * 1024  # far above any real notification sheet; refused before reading
MAX_ROWS = 100_000
ENCODINGS = ("utf-8", "cp1256")

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


class SpreadsheetError(BadRequest):
    """The whole file is refused (nothing in it is sent)."""

    title = "Unreadable spreadsheet"
    slug = "unreadable-spreadsheet"


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


# -- reading a file into cells --------------------------------------------------------------------


def read_table(
    path: Path, encoding: str | None = None
) -> tuple[list[str], list[tuple[int, list[object]]], str]:
    """(headers, [(row number, cells)], encoding) of the first sheet, the header row first."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SpreadsheetError(f"cannot read {path.name}: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise SpreadsheetError(
            f"{path.name} is {size / 1e6:.1f} MB; the limit is {MAX_BYTES // 2**20} MB: "
            "split it into smaller files"
        )
    if size == 0:
        raise SpreadsheetError(f"{path.name} is empty")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows, used = _xlsx_rows(path), "xlsx"
    elif suffix in (".csv", ".txt"):
        rows, used = _csv_rows(path.read_bytes(), path.name, encoding)
    elif suffix in (".xls", ".ods", ".numbers"):
        raise SpreadsheetError(f"{path.name}: save it as .xlsx or CSV (UTF-8) first")
    else:
        raise SpreadsheetError(f"{path.name}: give a .csv or .xlsx file")
    for i, (number, cells) in enumerate(rows):
        if any(_blank(c) is False for c in cells):
            headers = [("" if c is None else str(c)).strip() for c in cells]
            body = [(n, c) for n, c in rows[i + 1 :] if any(_blank(x) is False for x in c)]
            if not body:
                raise SpreadsheetError(f"{path.name} has a header row (row {number}) but no rows")
            return headers, body, used
    raise SpreadsheetError(f"{path.name} has no rows")


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _csv_rows(
    raw: bytes, name: str, encoding: str | None
) -> tuple[list[tuple[int, list[object]]], str]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpreadsheetError(f"{name} is UTF-16: save it as 'CSV UTF-8' instead")
    if encoding is not None and encoding not in ENCODINGS:
        raise SpreadsheetError(f"encoding must be one of {', '.join(ENCODINGS)}")
    wanted = encoding or "utf-8"
    if wanted == "utf-8" and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # Excel's "CSV UTF-8" starts with a byte-order mark
    try:
        text = raw.decode(wanted)
    except UnicodeDecodeError as exc:
        hint = ""
        if wanted == "utf-8" and _looks_arabic_1256(raw):
            hint = (
                " It reads as Windows-1256 (Arabic): save it as 'CSV UTF-8', "
                "or import it with --encoding cp1256."
            )
        raise SpreadsheetError(
            f"{name} is not UTF-8 (byte {exc.start + 1} cannot be read).{hint}"
        ) from None
    if "\x00" in text:
        raise SpreadsheetError(f"{name} holds NUL characters: it is not a text CSV")
    first = text.split("\n", 1)[0]
    # Only the delimiter is sniffed (Excel writes ";" where the decimal mark is ","); the quoting
    # stays Excel's, which a header line alone cannot reveal.
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows: list[tuple[int, list[object]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter)
    try:
        for cells in reader:
            if len(rows) > MAX_ROWS:
                raise SpreadsheetError(f"{name} has more than {MAX_ROWS} rows: split it")
            rows.append((reader.line_num, list(cells)))
    except csv.Error as exc:
        raise SpreadsheetError(f"{name} line {reader.line_num}: {exc}") from None
    return rows, wanted


def _looks_arabic_1256(raw: bytes) -> bool:
    try:
        text = raw.decode("cp1256")
    except UnicodeDecodeError:
        return False
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def _xlsx_rows(path: Path) -> list[tuple[int, list[object]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Formulas are read as formulas (not their cached values) so they can be refused.
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SpreadsheetError(f"{path.name} is not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows: list[tuple[int, list[object]]] = []
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            if len(rows) > MAX_ROWS:
                raise SpreadsheetError(f"{path.name} has more than {MAX_ROWS} rows: split it")
            rows.append((number, [_xlsx_value(c) for c in cells]))
        return rows
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SpreadsheetError(f"{path.name} is not a readable .xlsx workbook ({exc})") from None
    finally:
        book.close()


@dataclass(frozen=True)
class Formula:
    text: str


def _xlsx_value(cell: Any) -> object:
    if getattr(cell, "data_type", None) == "f":
        return Formula(str(cell.value))
    return cell.value


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
