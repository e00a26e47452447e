"""Movements on the ground (convoys): notify one, list those you may see."""

from __future__ import annotations

import click
from rich.markup import escape

from parley.cli.base import JSON, cli, emit, out
from parley.cli.notify import (
    AUDIENCE,
    _audience,
    _report,
    party_options,
)
from parley.cli.reading import (
    _about,
    _body,
    _by_kind,
    _plural,
    _say,
)
from parley.client.http import Client, Names
from parley.formats.coordinates import echo, echo_line, parse_position


@cli.group()
def movement() -> None:
    """Movements on the ground (convoys): a route with a corridor."""


@movement.command("add")
@party_options
@click.option("--name", required=True)
@click.option(
    "--route",
    "route",
    required=True,
    multiple=True,
    help="A point of the route (repeat, in order): decimal, DMS or MGRS.",
)
@click.option("--corridor", "corridor_m", required=True, type=float, help="Half-width, metres.")
@click.option("--start", required=True, help="ISO 8601 UTC time the movement starts.")
@click.option("--end", required=True, help="ISO 8601 UTC time it ends.")
@AUDIENCE
@JSON
def movement_add(
    client: Client,
    name: str,
    route: tuple[str, ...],
    corridor_m: float,
    start: str,
    end: str,
    audience: str,
    as_json: bool,
) -> None:
    """Notify a movement along a route; prints where each point of the route lies."""
    if len(route) < 2:
        raise click.ClickException("a route needs at least two --route points")
    points = [parse_position(p) for p in route]
    body = {
        "name": name,
        "route": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]},
        "corridor_m": corridor_m,
        "time": {"start": start, "end": end},
    }
    answer = client.submit("movement", body, _audience(audience))
    if as_json:
        emit({**answer, "route": [echo(*p) for p in points]}, True)
        return
    _report(answer, False, client=client)
    for i, at in enumerate(points):
        out.print(f"  point {i + 1} at {escape(echo_line(*at))}")


@movement.command("list")
@party_options
@click.option("--author", "author", default=None, help="Only this party's movements.")
@JSON
def movement_list(client: Client, author: str | None, as_json: bool) -> None:
    """Movements you may see."""
    names = Names.fetch(client)
    withdrawn = _about(names, "withdrawal")
    views = []
    for r in _by_kind(names.records, "movement"):
        if author is not None and r["party"] != author:
            continue
        body = _body(r)
        route = (body.get("route") or {}).get("coordinates") or []
        views.append(
            {
                **{k: r[k] for k in ("id", "party", "received_at", "audience")},
                "name": body.get("name"),
                "corridor_m": body.get("corridor_m"),
                "time": body.get("time"),
                "route": [echo(lat, lon) for lon, lat in route],
                "withdrawn_at": withdrawn[r["id"]][0]["received_at"]
                if r["id"] in withdrawn
                else None,
            }
        )
    if as_json:
        emit(views, True)
        return
    lines = []
    for v in views:
        ends = (
            f"from {v['route'][0]['decimal']} to {v['route'][-1]['decimal']}" if v["route"] else ""
        )
        when = v["time"] or {}
        gone = f", withdrawn {v['withdrawn_at']}" if v["withdrawn_at"] else ""
        lines.append(
            f"{names.label(v['id'])} by {v['party']} {ends}, corridor {v['corridor_m']} m, "
            f"{when.get('start')} to {when.get('end')}{gone}"
        )
    _say(lines, _plural(len(views), "movement"))


# -- conflicts --------------------------------------------------------------------------------
