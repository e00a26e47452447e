"""CLI commands a party runs against a hub: notify, acknowledge, follow alerts."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from parley import clock
from parley.cli.base import CA, INSECURE, JSON, cli, emit, err, out
from parley.client.http import Client, HubError, Names, _answer
from parley.formats.coordinates import echo, echo_line, parse_position
from parley.records.notices import CATEGORIES


def party_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--hub, --party, --key, --token, --ca, --insecure (or PARLEY_HUB, _PARTY, _KEY, _TOKEN,
    _CA, _INSECURE)."""

    @click.option("--hub", "hub_url", required=True, envvar="PARLEY_HUB", help="Hub base URL.")
    @click.option("--party", "party_id", required=True, envvar="PARLEY_PARTY")
    @click.option(
        "--key",
        "key_path",
        required=True,
        envvar="PARLEY_KEY",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
    )
    @click.option("--token", required=True, envvar="PARLEY_TOKEN")
    @CA
    @INSECURE
    @functools.wraps(command)
    def wrapper(
        hub_url: str,
        party_id: str,
        key_path: Path,
        token: str,
        ca_path: Path | None,
        insecure: bool,
        **kw: Any,
    ) -> Any:
        with Client(hub_url, party_id, token, key_path, ca=ca_path, insecure=insecure) as client:
            return command(client, **kw)

    return wrapper


AUDIENCE = click.option(
    "--audience",
    default="all",
    show_default=True,
    help='"all" or a comma-separated list of party ids.',
)


def _audience(text: str) -> str | list[str]:
    return "all" if text == "all" else [p for p in text.split(",") if p]


def _report(
    answer: dict[str, Any],
    as_json: bool,
    position: tuple[float, float] | None = None,
    volumes: Sequence[tuple[float, float]] = (),
    client: Client | None = None,
) -> None:
    lines = [
        f"accepted: {answer['kind']} {answer['id']} (sequence {answer['sequence']}, "
        f"received {answer['received_at']})"
    ]
    # Echo where it landed, so a misread position is seen by the person who typed it.
    if position is not None:
        answer = {**answer, "position": echo(*position)}
        lines.append(f"  at {escape(echo_line(*position))}")
    if volumes:
        answer = {**answer, "volumes": [{"centre": echo(*at)} for at in volumes]}
        for i, at in enumerate(volumes):
            lines.append(f"  volume {i + 1} centred at {escape(echo_line(*at))}")
    for flag in answer.get("flags", []):
        # Flags are the hub's warnings (possible duplicate, late notice): never hidden.
        lines.append(f"  [yellow]flag[/]: {escape(str(flag))}")
    conflicts = answer.get("conflicts", [])
    if conflicts and not as_json:
        names = Names.fetch(client) if client is not None else Names([])
        for c in conflicts:
            lines.append(f"  [red]{escape(names.conflict(c))}[/]")
        lines.append(f"  {conflict_summary(conflicts)}")
    emit(answer, as_json, "\n".join(lines))


def counted(counts: dict[str, int]) -> str:
    """``3 critical protected-site, 1 warning movement``, largest first."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{n} {what}" for what, n in ordered)


def conflict_summary(conflicts: Sequence[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for c in conflicts:
        what = f"{c['severity']} {c['kind']}"
        counts[what] = counts.get(what, 0) + 1
    n = len(conflicts)
    return f"{n} conflict{'' if n == 1 else 's'}" + (f": {counted(counts)}" if counts else "")


@cli.command()
@party_options
@AUDIENCE
@click.argument("kind")
@click.argument("body_file", type=click.File("r"))
@JSON
def submit(client: Client, audience: str, kind: str, body_file: Any, as_json: bool) -> None:
    """Sign the JSON body in BODY_FILE as KIND and submit it (use - for standard input)."""
    try:
        body = json.load(body_file)
    except ValueError as exc:
        raise click.ClickException(f"{body_file.name} is not JSON: {exc}") from None
    _report(client.submit(kind, body, _audience(audience)), as_json)


@cli.group()
def site() -> None:
    """Protected sites (notifiers)."""


@site.command("add")
@party_options
@click.option("--name", required=True)
@click.option("--category", required=True, type=click.Choice(CATEGORIES))
@click.option("--at", "position", required=True, help="Where: decimal 'lat, lon', DMS, or MGRS.")
@click.option("--radius", "radius_m", required=True, type=float, help="Protected radius, metres.")
@click.option("--valid-until", default=None, help="ISO 8601 UTC time; default: open-ended.")
@click.option(
    "--warn-on-conflict",
    is_flag=True,
    help="For a restricted site: tell parties outside the audience that a protected "
    "site they cannot see lies in their volume.",
)
@click.option("--yes", is_flag=True, help="Notify even if a site of the same category is near.")
@AUDIENCE
@JSON
def site_add(
    client: Client,
    name: str,
    category: str,
    position: str,
    radius_m: float,
    valid_until: str | None,
    warn_on_conflict: bool,
    yes: bool,
    audience: str,
    as_json: bool,
) -> None:
    """Notify a protected site (a point with a radius).

    Prints where the site landed (decimal, DMS, MGRS, nearest place) and every flag the hub
    raises. A site of the same category within 100 m asks for confirmation (--yes skips it).
    """
    lat, lon = parse_position(position)
    body: dict[str, Any] = {
        "category": category,
        "name": name,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "radius_m": radius_m,
        "valid": {"start": clock.iso(clock.now()), "end": valid_until},
    }
    if warn_on_conflict:
        body["warn_on_conflict"] = True
    if not yes:
        _confirm_flags(client, body, (lat, lon))
    _report(client.submit("site", body, _audience(audience)), as_json, (lat, lon))


def _confirm_flags(client: Client, body: dict[str, Any], at: tuple[float, float]) -> None:
    """Ask before notifying a site the hub would flag as a possible duplicate."""
    flags: list[str] = _answer(client.http.post("/api/v1/sites/check", json=body))["flags"]
    if not flags:
        return
    err.print(f"at {escape(echo_line(*at))}")
    for flag in flags:
        err.print(f"[yellow]flag[/]: {escape(flag)}")
    if not sys.stdin.isatty():
        raise click.ClickException("not notified: check the flags above; --yes notifies anyway")
    if not click.confirm("Notify this site anyway?", default=False, err=True):
        raise click.ClickException("not notified")


@cli.group()
def operation() -> None:
    """Planned operations (members)."""


@operation.command("notify")
@party_options
@click.argument("body_file", type=click.File("r"))
@click.option("--supersedes", default=None, help="Amend: the id of the version this replaces.")
@AUDIENCE
@JSON
def operation_notify(
    client: Client, body_file: Any, supersedes: str | None, audience: str, as_json: bool
) -> None:
    """Notify (or amend) an operation from a JSON body with its volumes."""
    try:
        body = json.load(body_file)
    except ValueError as exc:
        raise click.ClickException(f"{body_file.name} is not JSON: {exc}") from None
    if supersedes:
        body["supersedes"] = supersedes
    answer = client.submit("operation", body, _audience(audience))
    _report(answer, as_json, volumes=_volume_centres(body), client=client)


def _volume_centres(body: dict[str, Any]) -> list[tuple[float, float]]:
    """Where each volume lies, as (lat, lon) of its footprint's centre (the hub accepted them)."""
    import shapely

    centres = []
    for volume in body.get("volumes", []):
        centre = shapely.geometry.shape(volume["footprint"]).centroid
        centres.append((centre.y, centre.x))
    return centres


@operation.command("status")
@party_options
@click.argument("operation_id")
@click.argument("status", type=click.Choice(["active", "completed", "cancelled"]))
@JSON
def operation_status(client: Client, operation_id: str, status: str, as_json: bool) -> None:
    """Move one of your operations on: active, completed or cancelled."""
    body = {"operation": operation_id, "status": status}
    _report(client.submit("operation-status", body, _audience_of(client, operation_id)), as_json)


@cli.command()
@party_options
@click.argument("record_id")
@JSON
def ack(client: Client, record_id: str, as_json: bool) -> None:
    """Acknowledge receipt of a notified site or movement (receipt, not approval)."""
    _report(
        client.submit("acknowledgement", {"record": record_id}, _audience_of(client, record_id)),
        as_json,
    )


def _audience_of(client: Client, record_id: str) -> str | list[str]:
    """A record about a record goes to that record's audience (docs/entries.md); one the hub
    does not show is sent for all, and the hub refuses it as missing."""
    try:
        audience: str | list[str] = client.get(f"/api/v1/submissions/{record_id}")["audience"]
    except HubError:
        return "all"
    return audience


ACKNOWLEDGING_ROLES = ("member",)


def role_of(client: Client) -> str:
    return str(client.get("/api/v1/parties/me")["role"])


@cli.command()
@party_options
@JSON
def unacknowledged(client: Client, as_json: bool) -> None:
    """Sites notified to you that you have not yet acknowledged receiving (members only: only
    members acknowledge)."""
    role = role_of(client)
    if role not in ACKNOWLEDGING_ROLES:
        raise click.ClickException(
            f"{client.party} is a {role}: only members acknowledge sites, so nothing is owed"
        )
    items = client.get("/api/v1/sites/unacknowledged")["items"]
    if as_json:
        emit(items, True)
        return
    names = Names.fetch(client)
    lines = [
        f"{names.label(i['id'])}  from {i['party']}  received {i['received_at']}  "
        f"({i['age_s'] // 3600} h ago)"
        for i in items
    ]
    n = len(items)
    lines.append(
        f"{n} site{'' if n == 1 else 's'} to acknowledge" if n else "nothing left to acknowledge"
    )
    out.print(escape("\n".join(lines)))
