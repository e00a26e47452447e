"""CLI commands for reading what the hub holds: sites and operations, with filters and counts.

Every listing reads the records the caller may see once per command and names them from that
(kind, name, short id); ``--json`` prints an array of the full records."""

from __future__ import annotations

import json
from typing import Any

import click

from parley.cli.base import JSON, emit
from parley.cli.notify import (
    conflict_summary,
    counted,
    operation,
    party_options,
    site,
)
from parley.cli.reading import (
    _about,
    _body,
    _by_kind,
    _found,
    _metres,
    _plural,
    _say,
    _site_view,
    _where,
)
from parley.client.http import Client, Names, pages
from parley.formats.coordinates import echo_line, parse_position
from parley.records.notices import CATEGORIES


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
