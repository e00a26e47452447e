"""Spreadsheet files (CSV or .xlsx) read into cells, strictly: a size limit checked before
reading, a legacy encoding named rather than guessed, a formula kept as a formula (never its
cached value). What the cells mean is parley.formats.spreadsheet's business."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.errors import BadRequest

MAX_BYTES = 20 * 1024 * 1024  # far above any real notification sheet; refused before reading
MAX_ROWS = 100_000
ENCODINGS = ("utf-8", "cp1256")


class SpreadsheetError(BadRequest):
    """The whole file is refused (nothing in it is sent)."""

    title = "Unreadable spreadsheet"
    slug = "unreadable-spreadsheet"


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
