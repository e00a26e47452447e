"""CLI commands a party runs against a hub: notify, acknowledge, follow alerts."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import httpx
from rich.markup import escape

from parley import clock
from parley.cli import JSON, cli, emit, err, out
from parley.client import Client, HubError, _answer
from parley.formats.coordinates import echo, echo_line, parse_position
from parley.notices import CATEGORIES


def party_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--hub, --party, --key, --token (or PARLEY_HUB, _PARTY, _KEY, _TOKEN)."""

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
    @functools.wraps(command)
    def wrapper(hub_url: str, party_id: str, key_path: Path, token: str, **kw: Any) -> Any:
        with Client(hub_url, party_id, token, key_path) as client:
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
            lines.append(f"  volume {i} centred at {escape(echo_line(*at))}")
    for flag in answer.get("flags", []):
        # Flags are the hub's warnings (possible duplicate, late notice): never hidden.
        lines.append(f"  [yellow]flag[/]: {escape(str(flag))}")
    for c in answer.get("conflicts", []):
        lines.append(f"  [red]{c['severity']} {c['kind']}[/]: {escape(str(c['detail']))}")
    emit(answer, as_json, "\n".join(lines))


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
    _report(answer, as_json, volumes=_volume_centres(body))


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


@cli.command()
@party_options
@JSON
def unacknowledged(client: Client, as_json: bool) -> None:
    """Sites notified to you that you have not yet acknowledged receiving."""
    items = client.get("/api/v1/sites/unacknowledged")["items"]
    emit(
        items,
        as_json,
        "\n".join(
            f"{i['id']}  from {i['party']}  received {i['received_at']}  "
            f"({i['age_s'] // 3600} h ago)"
            for i in items
        )
        or "nothing left to acknowledge",
    )


@cli.command()
@party_options
@click.option("--follow", is_flag=True, help="Keep printing new alerts as they arrive.")
@JSON
def alerts(client: Client, follow: bool, as_json: bool) -> None:
    """Your alerts; with --follow, a live feed (Server-Sent Events)."""

    def show(item: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(item))
        else:
            ack_state = "acknowledged" if item["acknowledged_at"] else "new"
            what = item["conflict"]["kind"] if item["conflict"] else item["kind"]
            out.print(
                f"{item['created_at']}  [bold]{item['severity']}[/] {what}  "
                f"{item['message']}  ({ack_state})"
            )

    cursor = 0
    while True:
        page = client.get("/api/v1/alerts", cursor=cursor, limit=1000)
        for item in page["items"]:
            show(item)
            cursor = item["cursor"]
        if page["next"] is None:
            break
    if not follow:
        return
    with client.http.stream(
        "GET",
        "/api/v1/alerts/stream",
        params={"cursor": cursor},
        timeout=httpx.Timeout(30, read=None),
    ) as response:
        if response.status_code != 200:
            _answer(response)
        for line in response.iter_lines():
            if line.startswith("data: "):
                show(json.loads(line.removeprefix("data: ")))


@cli.command()
@party_options
@click.option("--format", "fmt", type=click.Choice(["stix"]), default="stix", show_default=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
def export(client: Client, fmt: str, out_path: Path | None) -> None:
    """Export what you may see: sites, areas, incidents and conflicts as a STIX 2.1 bundle."""
    text = json.dumps(client.get(f"/api/v1/export/{fmt}"), indent=2) + "\n"
    if out_path:
        out_path.write_text(text)
    else:
        click.echo(text, nl=False)
