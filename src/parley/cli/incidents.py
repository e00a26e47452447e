"""Incidents: report one, list those you may see."""

from __future__ import annotations

from typing import Any

import click

from parley import clock
from parley.cli.base import JSON, cli, emit
from parley.cli.notify import (
    AUDIENCE,
    _audience,
    _report,
    party_options,
)
from parley.cli.reading import (
    _body,
    _by_kind,
    _plural,
    _say,
    _where,
)
from parley.client.http import Client, Names, short
from parley.formats.coordinates import echo, parse_position


@cli.group()
def incident() -> None:
    """Incidents: reported, then reviewed jointly."""


@incident.command("add")
@party_options
@click.option("--at", "position", required=True, help="Where: decimal, DMS or MGRS.")
@click.option("--time", "when", default=None, help="ISO 8601 UTC time; default: now.")
@click.option("--description", required=True)
@click.option("--killed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--injured", type=click.IntRange(0), default=0, show_default=True)
@AUDIENCE
@JSON
def incident_add(
    client: Client,
    position: str,
    when: str | None,
    description: str,
    killed: int,
    injured: int,
    audience: str,
    as_json: bool,
) -> None:
    """Report an incident at a position and time."""
    lat, lon = parse_position(position)
    body = {
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "time": when or clock.iso(clock.now()),
        "description": description,
        "casualties": {"killed": killed, "injured": injured},
    }
    _report(
        client.submit("incident", body, _audience(audience)), as_json, (lat, lon), client=client
    )


@incident.command("list")
@party_options
@click.option("--author", "author", default=None, help="Only this party's reports.")
@JSON
def incident_list(client: Client, author: str | None, as_json: bool) -> None:
    """Incidents you may see, with their reviews."""
    names = Names.fetch(client)
    reviews: dict[str, list[dict[str, Any]]] = {}
    for r in _by_kind(names.records, "review"):
        subject = _body(r).get("incident")
        if isinstance(subject, str):
            reviews.setdefault(subject, []).append(r)
    views = []
    for r in _by_kind(names.records, "incident"):
        if author is not None and r["party"] != author:
            continue
        body = _body(r)
        at = _where(body, "location")
        views.append(
            {
                **{k: r[k] for k in ("id", "party", "received_at", "audience")},
                "time": body.get("time"),
                "description": body.get("description"),
                "casualties": body.get("casualties"),
                "position": echo(*at) if at else None,
                "reviews": [
                    {"id": v["id"], "party": v["party"], "step": _body(v).get("step")}
                    for v in reviews.get(r["id"], [])
                ],
            }
        )
    if as_json:
        emit(views, True)
        return
    lines = [
        f"incident ({short(v['id'])}) by {v['party']} at "
        f"{v['position']['decimal'] if v['position'] else '?'}, {v['time']}: "
        f"{v['description']} ({_plural(len(v['reviews']), 'review step')})"
        for v in views
    ]
    _say(lines, _plural(len(views), "incident"))
