"""Following alerts (a list, or a live feed with --follow) and exporting what a party may see."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx
from rich.markup import escape

from parley import clock
from parley.cli.base import CA, INSECURE, JSON, cli, emit, out
from parley.cli.notify import party_options
from parley.client.http import Client, Names, _answer, pages


def alert_line(item: dict[str, Any], names: Names) -> str:
    ack_state = "acknowledged" if item["acknowledged_at"] else "new"
    if item["conflict"]:
        what = names.conflict(item["conflict"])
    else:
        what = f"{item['severity']} {item['kind']}: {names.text(str(item['message']))}"
    return f"{item['created_at']}  {what}  ({ack_state})"


def _alert_wanted(item: dict[str, Any], new: bool, since: str | None, kind: str | None) -> bool:
    if new and item["acknowledged_at"]:
        return False
    if since and item["created_at"] < since:
        return False
    what = item["conflict"]["kind"] if item["conflict"] else item["kind"]
    return kind is None or kind in (what, item["kind"])


def _listing_party_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """party_options for a group that lists when called alone: its sub-commands take their own
    options, so here the options are needed only when the group itself runs."""

    @click.option("--hub", "hub_url", envvar="PARLEY_HUB", help="Hub base URL.")
    @click.option("--party", "party_id", envvar="PARLEY_PARTY")
    @click.option(
        "--key",
        "key_path",
        envvar="PARLEY_KEY",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
    )
    @click.option("--token", envvar="PARLEY_TOKEN")
    @CA
    @INSECURE
    @functools.wraps(command)
    def wrapper(
        hub_url: str | None,
        party_id: str | None,
        key_path: Path | None,
        token: str | None,
        ca_path: Path | None,
        insecure: bool,
        **kw: Any,
    ) -> Any:
        if click.get_current_context().invoked_subcommand:
            return None
        given = {"--hub": hub_url, "--party": party_id, "--key": key_path, "--token": token}
        missing = [name for name, value in given.items() if value is None]
        if missing or hub_url is None or party_id is None or key_path is None or token is None:
            raise click.UsageError(f"missing option {', '.join(missing)} (or its PARLEY_ variable)")
        with Client(hub_url, party_id, token, key_path, ca=ca_path, insecure=insecure) as client:
            return command(client, **kw)

    return wrapper


@cli.group(invoke_without_command=True)
@_listing_party_options
@click.option("--follow", is_flag=True, help="Keep printing new alerts as they arrive.")
@click.option("--new", is_flag=True, help="Only alerts not yet acknowledged.")
@click.option(
    "--since",
    default=None,
    help="Only alerts raised at or after this ISO 8601 time; with --follow, replay from it.",
)
@click.option("--kind", default=None, help="Only this kind (e.g. protected-site, withdrawal).")
@JSON
def alerts(
    client: Client, follow: bool, new: bool, since: str | None, kind: str | None, as_json: bool
) -> None:
    """Your alerts; with --follow, a live feed from now (Server-Sent Events).

    --json prints an array, or one JSON object a line with --follow."""
    since_iso = clock.iso(clock.parse(since, "--since")) if since else None
    history = pages(client, "/api/v1/alerts", 0)
    cursor = history[-1]["cursor"] if history else 0
    names = Names([]) if as_json else Names.fetch(client)
    shown = [i for i in history if _alert_wanted(i, new, since_iso, kind)]
    if not follow:
        if as_json:
            emit(shown, True)
            return
        for item in shown:
            out.print(escape(alert_line(item, names)))
        n, fresh = len(shown), sum(1 for i in shown if not i["acknowledged_at"])
        out.print(f"{n} alert{'' if n == 1 else 's'}, {fresh} new" if n else "no alerts")
        return

    def show(item: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(item))
        else:
            out.print(escape(alert_line(item, names)))

    # A live feed starts from now: the past is `parley alerts`, or --since.
    if since_iso is not None:
        for item in shown:
            show(item)
    with client.http.stream(
        "GET",
        "/api/v1/alerts/stream",
        params={"cursor": cursor},
        timeout=httpx.Timeout(30, read=None),
    ) as response:
        if response.status_code != 200:
            response.read()
            _answer(response)
        for line in response.iter_lines():
            if line.startswith("data: "):
                item = json.loads(line.removeprefix("data: "))
                named = [item.get("record"), *names.sides(item.get("conflict") or {}).values()]
                if not as_json and any(r and r not in names.records for r in named):
                    # A record that arrived after we looked: look again, once per such alert.
                    names = Names.fetch(client)
                if _alert_wanted(item, new, None, kind):
                    show(item)


@cli.command()
@party_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["stix", "geojson", "kml", "csv", "gpkg"]),
    default="stix",
    show_default=True,
)
@click.option(
    "--layer",
    type=click.Choice(["sites", "movements", "operations", "areas", "incidents", "conflicts"]),
    help="The layer to export as GeoJSON, KML or CSV (STIX holds them all).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
def export(client: Client, fmt: str, layer: str | None, out_path: Path | None) -> None:
    """Export what you may see: everything as a STIX 2.1 bundle, or one layer as GeoJSON, KML
    2.2, CSV (with MGRS and DMS columns) or GeoPackage."""
    if fmt == "stix":
        text = json.dumps(client.get("/api/v1/export/stix"), indent=2) + "\n"
    elif layer is None:
        raise click.UsageError(f"--format {fmt} exports one layer: give --layer")
    else:
        response = client.http.get(f"/api/v1/export/{layer}.{fmt}")
        if response.status_code >= 400:
            _answer(response)
        if fmt == "gpkg":  # a SQLite database: bytes, as they came
            if out_path:
                out_path.write_bytes(response.content)
            else:
                sys.stdout.buffer.write(response.content)
            return
        text = response.text
    if out_path:
        out_path.write_text(text)
    else:
        click.echo(text, nl=False)
