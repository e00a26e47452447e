"""CLI commands for reading what the hub holds and for the day's smaller writes: lists with
filters and counts, withdrawals, resolutions, movements and incidents.

Every listing reads the records the caller may see once per command and names them from that
(kind, name, short id); ``--json`` prints an array of the full records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.markup import escape

from parley import clock
from parley.cli.base import JSON, cli, emit, out
from parley.cli.notify import (
    AUDIENCE,
    _audience,
    _audience_of,
    _report,
    alert_line,
    alerts,
    conflict_summary,
    counted,
    operation,
    party_options,
    site,
)
from parley.client.http import Client, HubError, Names, pages, short
from parley.formats.coordinates import echo, echo_line, parse_position
from parley.records.notices import CATEGORIES

RESOLUTIONS = ("amended", "cancelled", "accepted-after-coordination")
STATES = ("open", "acknowledged", "resolved", "moot")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _say(lines: Sequence[str], summary: str) -> None:
    # Names come from other parties: printed as text, never as console markup.
    out.print(escape("\n".join([*lines, summary])))


def _where(body: dict[str, Any], member: str = "geometry") -> tuple[float, float] | None:
    """(lat, lon) of a record's point, or of its shape's centre."""
    import shapely

    geometry = body.get(member)
    try:
        centre = shapely.geometry.shape(geometry).centroid
    except Exception:
        return None
    return (centre.y, centre.x)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    from parley.geo import geodesy

    arr = geodesy.as_array
    return float(geodesy.distance(arr([a[1]]), arr([a[0]]), arr([b[1]]), arr([b[0]]))[0])


def _by_kind(records: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records.values() if r["kind"] == kind]


def _body(record: dict[str, Any]) -> dict[str, Any]:
    body = (record.get("document") or {}).get("body")
    return body if isinstance(body, dict) else {}


def _about(names: Names, kind: str) -> dict[str, list[dict[str, Any]]]:
    """Records of ``kind`` that name another record (``body.record``), by the record named."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in _by_kind(names.records, kind):
        subject = _body(r).get("record")
        if isinstance(subject, str):
            found.setdefault(subject, []).append(r)
    return found


def _found(names: Names, record_id: str, kind: str) -> dict[str, Any]:
    record = names.records.get(record_id)
    if record is None:
        # Ids are long: a short id as printed by the listings is accepted too.
        matches = [r for i, r in names.records.items() if i.startswith(record_id)]
        record = matches[0] if len(matches) == 1 else None
    if record is None or record["kind"] != kind:
        raise click.ClickException(f"no {kind} {record_id} that you may see")
    return record


# -- sites ------------------------------------------------------------------------------------


def _site_view(names: Names, record: dict[str, Any], acks: list[dict[str, Any]]) -> dict[str, Any]:
    body = _body(record)
    at = _where(body)
    withdrawn = _about(names, "withdrawal").get(record["id"])
    return {
        **{k: record[k] for k in ("id", "party", "received_at", "audience")},
        "name": body.get("name"),
        "category": body.get("category"),
        "radius_m": body.get("radius_m"),
        "position": echo(*at) if at else None,
        "valid": body.get("valid"),
        "withdrawn_at": withdrawn[0]["received_at"] if withdrawn else None,
        "acknowledged_by": [{"party": a["party"], "at": a["received_at"]} for a in acks],
    }


@site.command("list")
@party_options
@click.option("--category", type=click.Choice(CATEGORIES), default=None)
@click.option("--near", default=None, help="A position in any form `site add --at` reads.")
@click.option("--within", "within_m", type=float, default=10_000, show_default=True)
@click.option(
    "--acknowledged/--unacknowledged",
    "acknowledged",
    default=None,
    help="Only sites someone (or --by) has, or has not, acknowledged.",
)
@click.option("--by", "by_party", default=None, help="Acknowledged (or not) by this party.")
@click.option("--withdrawn", is_flag=True, help="Include withdrawn sites.")
@JSON
def site_list(
    client: Client,
    category: str | None,
    near: str | None,
    within_m: float,
    acknowledged: bool | None,
    by_party: str | None,
    withdrawn: bool,
    as_json: bool,
) -> None:
    """Protected sites you may see, with who acknowledged them."""
    names = Names.fetch(client)
    acks = _about(names, "acknowledgement")
    centre = parse_position(near) if near else None
    views = []
    for record in _by_kind(names.records, "site"):
        view = _site_view(names, record, acks.get(record["id"], []))
        ackers = {a["party"] for a in view["acknowledged_by"]}
        if category and view["category"] != category:
            continue
        if view["withdrawn_at"] and not withdrawn:
            continue
        if acknowledged is not None and acknowledged != (
            (by_party in ackers) if by_party else bool(ackers)
        ):
            continue
        if centre is not None:
            at = _where(_body(record))
            if at is None or _metres(centre, at) > within_m:
                continue
            view["distance_m"] = round(_metres(centre, at), 1)
        views.append(view)
    if as_json:
        emit(views, True)
        return
    lines = []
    for v in views:
        who = ", ".join(a["party"] for a in v["acknowledged_by"]) or "nobody"
        where = v["position"]["decimal"] if v["position"] else "?"
        away = f", {v['distance_m']:,.0f} m away" if "distance_m" in v else ""
        gone = f", withdrawn {v['withdrawn_at']}" if v["withdrawn_at"] else ""
        lines.append(
            f"{names.label(v['id'])} by {v['party']} at {where}, radius {v['radius_m']} m{away}; "
            f"acknowledged by {who}{gone}"
        )
    done = sum(1 for v in views if v["acknowledged_by"])
    _say(lines, f"{_plural(len(views), 'site')}, {done} acknowledged")


@site.command("show")
@party_options
@click.argument("site_id")
@JSON
def site_show(client: Client, site_id: str, as_json: bool) -> None:
    """One site: where, what, and who acknowledged it when."""
    names = Names.fetch(client)
    record = _found(names, site_id, "site")
    acks = _about(names, "acknowledgement").get(record["id"], [])
    view = _site_view(names, record, acks)
    if as_json:
        emit(view, True)
        return
    at = _where(_body(record))
    lines = [
        names.label(record["id"]),
        f"  id {record['id']}",
        f"  notified by {record['party']}, received {record['received_at']}",
        f"  at {echo_line(*at)}" if at else "  at (no position)",
        f"  radius {view['radius_m']} m, valid {json.dumps(view['valid'])}",
        f"  audience {_audience_text(record['audience'])}",
    ]
    if view["withdrawn_at"]:
        lines.append(f"  withdrawn {view['withdrawn_at']}")
    for a in view["acknowledged_by"]:
        lines.append(f"  acknowledged by {a['party']} at {a['at']}")
    _say(lines, f"{_plural(len(acks), 'acknowledgement')}")


def _audience_text(audience: Any) -> str:
    return audience if isinstance(audience, str) else ", ".join(str(p) for p in audience)


# -- operations -------------------------------------------------------------------------------


def _statuses(names: Names) -> dict[str, str]:
    """Each operation's status as the caller can tell it: planned, then its latest status
    record, superseded once amended."""
    status: dict[str, str] = {}
    for r in sorted(names.records.values(), key=lambda r: r["sequence"]):
        body = _body(r)
        if r["kind"] == "operation-status" and isinstance(body.get("operation"), str):
            status[body["operation"]] = str(body.get("status"))
        elif r["kind"] == "operation" and isinstance(body.get("supersedes"), str):
            status[body["supersedes"]] = "superseded"
    return status


def _operation_view(record: dict[str, Any], status: str) -> dict[str, Any]:
    body = _body(record)
    volumes = body.get("volumes") if isinstance(body.get("volumes"), list) else []
    return {
        **{k: record[k] for k in ("id", "party", "received_at", "audience")},
        "name": body.get("name"),
        "status": status,
        "supersedes": body.get("supersedes"),
        "volumes": volumes,
    }


@operation.command("list")
@party_options
@click.option("--author", "author", default=None, help="Only this party's operations.")
@click.option(
    "--status",
    default=None,
    type=click.Choice(["planned", "active", "completed", "cancelled", "superseded"]),
)
@JSON
def operation_list(client: Client, author: str | None, status: str | None, as_json: bool) -> None:
    """Operations you may see, with their status."""
    names = Names.fetch(client)
    statuses = _statuses(names)
    views = [
        _operation_view(r, statuses.get(r["id"], "planned"))
        for r in _by_kind(names.records, "operation")
        if (author is None or r["party"] == author)
        and (status is None or statuses.get(r["id"], "planned") == status)
    ]
    if as_json:
        emit(views, True)
        return
    lines = [
        f"{names.label(v['id'])} by {v['party']}: {v['status']}, "
        f"{_plural(len(v['volumes']), 'volume')}, received {v['received_at']}"
        for v in views
    ]
    counts: dict[str, int] = {}
    for v in views:
        counts[v["status"]] = counts.get(v["status"], 0) + 1
    _say(lines, _plural(len(views), "operation") + (f": {counted(counts)}" if counts else ""))


@operation.command("show")
@party_options
@click.argument("operation_id")
@JSON
def operation_show(client: Client, operation_id: str, as_json: bool) -> None:
    """One operation: its volumes (numbered from 1), status and conflicts."""
    names = Names.fetch(client)
    record = _found(names, operation_id, "operation")
    view = _operation_view(record, _statuses(names).get(record["id"], "planned"))
    mine = [
        c
        for c in pages(client, "/api/v1/conflicts", 0)
        if record["id"] in (c.get("record"), c.get("other"), c.get("operation"))
        or record["id"] in (c.get("other_operation"),)
    ]
    view["conflicts"] = mine
    if as_json:
        emit(view, True)
        return
    lines = [
        names.label(record["id"]),
        f"  id {record['id']}",
        f"  by {record['party']}, received {record['received_at']}, {view['status']}",
        f"  audience {_audience_text(record['audience'])}",
    ]
    if view["supersedes"]:
        lines.append(f"  amends {names.label(view['supersedes'])}")
    for i, volume in enumerate(view["volumes"]):
        at = _where(volume, "footprint") if isinstance(volume, dict) else None
        band = volume.get("altitude", {}) if isinstance(volume, dict) else {}
        when = volume.get("time", {}) if isinstance(volume, dict) else {}
        lines.append(
            f"  volume {i + 1}: {echo_line(*at) if at else '?'}; "
            f"{band.get('lower_m')} to {band.get('upper_m')} m; "
            f"{when.get('start')} to {when.get('end')}"
        )
    lines.extend(f"  {names.conflict(c)}" for c in mine)
    _say(lines, f"{_plural(len(view['volumes']), 'volume')}, {conflict_summary(mine)}")


# -- movements --------------------------------------------------------------------------------


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


def _csv(values: tuple[str, ...]) -> list[str]:
    return [v for text in values for v in text.split(",") if v]


@cli.command()
@party_options
@click.option("--state", multiple=True, help=f"One or more of {', '.join(STATES)} (comma list).")
@click.option("--kind", multiple=True, help="protected-site, deconfliction, area-rule, movement.")
@click.option("--severity", multiple=True, help="critical, warning, ...")
@JSON
def conflicts(
    client: Client,
    state: tuple[str, ...],
    kind: tuple[str, ...],
    severity: tuple[str, ...],
    as_json: bool,
) -> None:
    """Conflicts that concern you (by default all but moot ones), by name, with counts."""
    states, kinds, severities = _csv(state), _csv(kind), _csv(severity)
    params = {
        k: ",".join(v)
        for k, v in {"state": states, "kind": kinds, "severity": severities}.items()
        if v
    }
    try:
        items = pages(client, "/api/v1/conflicts", 0, **params)
    except HubError as exc:
        if exc.status != 400 or not params:
            raise
        # A hub without these filters: ask for everything and filter here.
        items = pages(client, "/api/v1/conflicts", 0)
    items = [
        c
        for c in items
        if (not states or c.get("state", "open") in states)
        and (not kinds or c["kind"] in kinds)
        and (not severities or c["severity"] in severities)
    ]
    if as_json:
        emit(items, True)
        return
    names = Names.fetch(client)
    lines = [f"{short(c['id'])}  {names.conflict(c)}" for c in items]
    by_state: dict[str, int] = {}
    for c in items:
        by_state[c.get("state", "open")] = by_state.get(c.get("state", "open"), 0) + 1
    summary = conflict_summary(items)
    if any("state" in c for c in items):
        summary += f" ({counted(by_state)})"
    _say(lines, summary)


@cli.command()
@party_options
@click.argument("conflict_id")
@click.option("--outcome", required=True, type=click.Choice(RESOLUTIONS))
@click.option(
    "--audience",
    default=None,
    help="Comma-separated party ids (default: you and the parties of the conflict's operations).",
)
@JSON
def resolve(
    client: Client, conflict_id: str, outcome: str, audience: str | None, as_json: bool
) -> None:
    """Record how a conflict was resolved."""
    found = (
        [
            c
            for c in pages(client, "/api/v1/conflicts", 0, state="open,acknowledged,resolved,moot")
            if c["id"] == conflict_id or c["id"].startswith(conflict_id)
        ]
        if conflict_id
        else []
    )
    if len(found) != 1:
        raise click.ClickException(f"no conflict {conflict_id} that concerns you")
    conflict = found[0]
    names = Names.fetch(client)
    if audience is None:
        # Only the parties the conflict alerted know of it: the resolution goes to them.
        told = {client.party}
        for role, record_id in names.sides(conflict).items():
            if role in ("operation", "other_operation") and record_id in names.records:
                told.add(str(names.records[record_id]["party"]))
        chosen: str | list[str] = sorted(told)
    else:
        chosen = _audience(audience)
    answer = client.submit("resolution", {"conflict": conflict["id"], "outcome": outcome}, chosen)
    if as_json:
        emit(answer, True)
        return
    _report(answer, False)
    out.print(f"  resolved ({outcome}): {escape(names.conflict(conflict))}")


# -- withdrawals and alert acknowledgement ---------------------------------------------------


@cli.command()
@party_options
@click.argument("record_id")
@JSON
def withdraw(client: Client, record_id: str, as_json: bool) -> None:
    """Withdraw one of your sites or movements (it leaves force for its whole audience)."""
    names = Names.fetch(client)
    label = names.label(record_id)
    answer = client.submit("withdrawal", {"record": record_id}, _audience_of(client, record_id))
    if as_json:
        emit(answer, True)
        return
    _report(answer, False)
    out.print(f"  withdrew {escape(label)}")


@alerts.command("ack")
@party_options
@click.argument("alert_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every alert not yet acknowledged.")
@click.option(
    "--audience",
    default=None,
    help="Comma-separated parties told of the acknowledgement, at most those the conflict "
    "alerted (default: you alone).",
)
@JSON
def alerts_ack(
    client: Client, alert_ids: tuple[str, ...], every: bool, audience: str | None, as_json: bool
) -> None:
    """Acknowledge alerts (by id, or --all), each with a signed record on the log."""
    if bool(alert_ids) == every:
        raise click.ClickException("give alert ids, or --all (not both)")
    feed = {a["id"]: a for a in pages(client, "/api/v1/alerts", 0)}
    if every:
        alert_ids = tuple(i for i, a in feed.items() if not a["acknowledged_at"])
    chosen: str | list[str] = [client.party] if audience is None else _audience(audience)
    done = []
    for alert_id in alert_ids:
        # An id not in the feed is sent as it is: the hub's answer (no such alert) is the one.
        conflict = (feed.get(alert_id) or {}).get("conflict")
        body = {"alert": alert_id, **({"conflict": conflict["id"]} if conflict else {})}
        done.append(client.submit("alert-acknowledgement", body, chosen))
    if as_json:
        emit(done, True)
        return
    names = Names.fetch(client) if done else Names([])
    lines = []
    for answer, alert_id in zip(done, alert_ids, strict=True):
        _report(answer, False)
        if alert_id in feed:
            lines.append(
                alert_line({**feed[alert_id], "acknowledged_at": answer["received_at"]}, names)
            )
    _say(lines, f"{_plural(len(done), 'alert')} acknowledged")


# -- incidents --------------------------------------------------------------------------------


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
