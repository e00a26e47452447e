"""`parley site import`: protected sites from a CSV or .xlsx sheet, one signed record per row."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from parley import clock
from parley.cli.base import JSON, err, out
from parley.cli.notify import AUDIENCE, _audience, party_options, site
from parley.client.http import Client, HubError
from parley.formats.coordinates import echo_line
from parley.formats.sheet_files import ENCODINGS
from parley.formats.sheet_headers import COLUMN_NAMES
from parley.formats.spreadsheet import Refusal, Sheet, SiteRow, read_sites
from parley.records.notices import CATEGORIES

BATCH = 500


@site.command("import")
@party_options
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Dry run: decode every row and ask the hub, send none.")
@click.option("--yes", is_flag=True, help="Send without asking (needed when not at a terminal).")
@click.option("--radius", "radius_m", type=float, help="Radius (m) for rows without one.")
@click.option("--category", type=click.Choice(CATEGORIES), help="Category for rows without one.")
@click.option(
    "--encoding", type=click.Choice(ENCODINGS), help="A CSV's encoding (default: UTF-8 only)."
)
@click.option(
    "--refusals",
    "refusals_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the refused rows (default: FILE.refused.csv next to FILE).",
)
@AUDIENCE
@JSON
def site_import(
    client: Client,
    path: Path,
    check: bool,
    yes: bool,
    radius_m: float | None,
    category: str | None,
    encoding: str | None,
    refusals_path: Path | None,
    audience: str,
    as_json: bool,
) -> None:
    """Notify the sites of a CSV or .xlsx sheet, one signed record per row.

    Columns are matched by name (e.g. "Facility name", "Type of facility", "Latitude",
    "Longitude", or one "Coordinates"/"MGRS" column, "Radius (m)", "Valid from", "Valid until",
    "Audience"; see docs/import.md) and the mapping is printed before anything is sent. Rows
    already imported (same name, category and position) are skipped. Refused rows are written to
    a CSV with their row, column and reason, to fix and import again.
    """
    sheet = read_sites(
        path, encoding=encoding, default_radius_m=radius_m, default_category=category
    )
    _show_mapping(sheet, path)
    known = _imported_keys(client)
    fresh, skipped = _new_rows(sheet, known)
    default_audience = _audience(audience)
    if check:
        _check(client, sheet, fresh, skipped, default_audience, as_json)
        return
    if fresh and not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("not sent: check the columns above; --yes sends")
        if not click.confirm(f"Notify {len(fresh)} sites?", default=False, err=True):
            raise click.ClickException("not sent")
    accepted, refused = _send(client, fresh, default_audience)
    refusals = sorted([*sheet.refusals, *refused], key=lambda r: r.row)
    where = refusals_path or path.with_name(f"{path.stem}.refused.csv")
    if refusals:
        _write_refusals(where, sheet, refusals)
    _summary(accepted, refusals, skipped, where if refusals else None, as_json)
    if refusals:
        sys.exit(1)


def _show_mapping(sheet: Sheet, path: Path) -> None:
    lines = [f"{escape(path.name)}: columns read as"]
    for name, header in sheet.mapping.items():
        lines.append(f"  {escape(repr(header))} → {COLUMN_NAMES[name]}")
    if sheet.ignored:
        lines.append("  ignored: " + ", ".join(escape(repr(h)) for h in sheet.ignored))
    lines.append(f"  {len(sheet.rows) + len(sheet.refusals)} rows ({sheet.encoding})")
    err.print("\n".join(lines))


def _imported_keys(client: Client) -> dict[str, str]:
    """import_key → id of this party's sites already on the hub."""
    keys: dict[str, str] = {}
    cursor = -1
    while True:
        page = client.get(
            "/api/v1/submissions", kind="site", party=client.party, cursor=cursor, limit=1000
        )
        for item in page["items"]:
            body = (item.get("document") or {}).get("body") or {}
            key = body.get("import_key") if isinstance(body, dict) else None
            if isinstance(key, str):
                keys[key] = item["id"]
        if page["next"] is None:
            return keys
        cursor = page["next"]


def _new_rows(sheet: Sheet, known: dict[str, str]) -> tuple[list[SiteRow], list[dict[str, Any]]]:
    fresh: list[SiteRow] = []
    skipped: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in sheet.rows:
        key = row.import_key
        if key in known:
            skipped.append({"row": row.row, "reason": f"already notified as {known[key]}"})
        elif key in seen:
            skipped.append({"row": row.row, "reason": f"same site as row {seen[key]}"})
        else:
            seen[key] = row.row
            fresh.append(row)
    return fresh, skipped


def _column_of(field: str | None) -> str:
    """The sheet column a hub refusal's field names."""
    if not field:
        return ""
    for prefix, column in (
        ("body.geometry", "position"),
        ("body.category", "category"),
        ("body.radius_m", "radius (m)"),
        ("body.valid.start", "valid from"),
        ("body.valid.end", "valid until"),
        ("body.name", "name"),
        ("audience", "audience"),
    ):
        if field.startswith(prefix):
            return column
    return field


def _check(
    client: Client,
    sheet: Sheet,
    fresh: list[SiteRow],
    skipped: list[dict[str, Any]],
    default_audience: str | list[str],
    as_json: bool,
) -> None:
    now = clock.iso(clock.now())
    rows: list[dict[str, Any]] = []
    for row in fresh:
        verdict: dict[str, Any] = {"row": row.row, "name": row.name, "category": row.category}
        verdict["position"] = echo_line(row.lat, row.lon)
        try:
            answer = client.http.post("/api/v1/sites/check", json=row.body(now))
            if answer.status_code >= 400:
                problem = answer.json()
                raise HubError(problem if isinstance(problem, dict) else {})
            verdict["flags"] = answer.json()["flags"]
            verdict["verdict"] = "flagged" if verdict["flags"] else "accepted"
        except HubError as exc:
            verdict["verdict"] = "refused"
            verdict["column"] = _column_of(exc.body.get("field"))
            verdict["reason"] = exc.detail
        rows.append(verdict)
    for refusal in sheet.refusals:
        rows.append(
            {
                "row": refusal.row,
                "verdict": "refused",
                "column": refusal.column,
                "reason": refusal.reason,
            }
        )
    for s in skipped:
        rows.append({"row": s["row"], "verdict": "skipped", "reason": s["reason"]})
    rows.sort(key=lambda r: int(r["row"]))
    if as_json:
        click.echo(json.dumps({"rows": rows}, indent=2, sort_keys=True))
        return
    for r in rows:
        head = f"row {r['row']}: "
        if r["verdict"] == "refused":
            column = f" ({escape(r['column'])})" if r.get("column") else ""
            out.print(f"{head}[red]refused[/]{column}: {escape(r['reason'])}")
        elif r["verdict"] == "skipped":
            out.print(f"{head}skipped: {escape(r['reason'])}")
        else:
            out.print(f"{head}{escape(r['name'])} ({r['category']}) at {escape(r['position'])}")
            for flag in r.get("flags", []):
                out.print(f"  [yellow]flag[/]: {escape(flag)}")
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in _VERDICTS}
    out.print("check only, nothing sent: " + ", ".join(f"{n} {v}" for v, n in counts.items()))


_VERDICTS = ("accepted", "flagged", "refused", "skipped")


def _send(
    client: Client, fresh: list[SiteRow], default_audience: str | list[str]
) -> tuple[list[dict[str, Any]], list[Refusal]]:
    now = clock.iso(clock.now())
    accepted: list[dict[str, Any]] = []
    refused: list[Refusal] = []
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=not err.is_terminal,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("rows", total=len(fresh))
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            signed = [
                client.sign(
                    "site",
                    row.body(now),
                    row.audience if row.audience is not None else default_audience,
                )
                for row in chunk
            ]
            for row, result in zip(chunk, client.submit_batch(signed), strict=True):
                if result.get("status") == 201:
                    accepted.append(
                        {"row": row.row, "id": result["id"], "flags": result.get("flags", [])}
                    )
                else:
                    reason = str(result.get("detail") or result.get("title") or "refused")
                    refused.append(Refusal(row.row, _column_of(result.get("field")), reason))
            progress.advance(task, len(chunk))
    return accepted, refused


def _write_refusals(where: Path, sheet: Sheet, refusals: list[Refusal]) -> None:
    """row, column, reason, then the row as it was, so the file can be fixed and imported."""
    with where.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "column", "reason", *sheet.headers])
        for r in refusals:
            cells = ["" if c is None else str(c) for c in sheet.cells.get(r.row, [])]
            writer.writerow([r.row, r.column, r.reason, *cells])


def _summary(
    accepted: list[dict[str, Any]],
    refusals: list[Refusal],
    skipped: list[dict[str, Any]],
    where: Path | None,
    as_json: bool,
) -> None:
    flagged = [a for a in accepted if a["flags"]]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "accepted": accepted,
                    "refused": [r.__dict__ for r in refusals],
                    "skipped": skipped,
                    "refusals_file": str(where) if where else None,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    table = Table(title="import")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("accepted", str(len(accepted) - len(flagged)))
    table.add_row("accepted with flags", str(len(flagged)))
    table.add_row("refused", str(len(refusals)))
    table.add_row("already notified (skipped)", str(len(skipped)))
    out.print(table)
    for a in flagged:
        for flag in a["flags"]:
            out.print(f"row {a['row']}: [yellow]flag[/]: {escape(flag)}")
    for r in refusals:
        column = f" ({escape(r.column)})" if r.column else ""
        out.print(f"row {r.row}: [red]refused[/]{column}: {escape(r.reason)}")
    for s in skipped:
        out.print(f"row {s['row']}: skipped: {escape(s['reason'])}")
    if where:
        out.print(f"refused rows written to {escape(str(where))}: fix them and import that file")
