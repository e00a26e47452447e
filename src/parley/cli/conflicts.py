"""Conflicts and what a party does about them: list by state, resolve, withdraw a record,
acknowledge alerts (each acknowledgement a signed record on the log)."""

from __future__ import annotations

import click
from rich.markup import escape

from parley.cli.alerts import alert_line, alerts
from parley.cli.base import JSON, cli, emit, one_by_id, out
from parley.cli.notify import (
    _audience,
    _audience_of,
    _report,
    conflict_summary,
    counted,
    party_options,
)
from parley.cli.reading import (
    RESOLUTIONS,
    STATES,
    _plural,
    _say,
)
from parley.client.http import Client, HubError, Names, pages, short


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
    listed = {
        c["id"]: c
        for c in pages(client, "/api/v1/conflicts", 0, state="open,acknowledged,resolved,moot")
    }
    found = one_by_id(listed, conflict_id, "conflicts'") if conflict_id else None
    if found is None:
        raise click.ClickException(f"no conflict {conflict_id} that concerns you")
    conflict = listed[found]
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
