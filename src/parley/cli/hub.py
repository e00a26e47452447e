"""Commands that set up and run a hub: init, region, serve, keygen, party, demo."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from parley.cli.base import (
    DATA,
    DATABASE,
    JSON,
    REGION_FILE,
    REGION_MARGIN,
    cli,
    emit,
)


@cli.command()
@DATA
@DATABASE
@click.option("--origin", default=None, help="The log's origin line (default from settings).")
@REGION_FILE
@REGION_MARGIN
@JSON
def init(
    data_dir: Path,
    database_url: str | None,
    origin: str | None,
    region_file: Path | None,
    margin_km: float,
    as_json: bool,
) -> None:
    """Create a data directory: database, hub signing key and settings."""
    from parley.hub import setup

    result = setup.init(data_dir, database_url, origin)
    origin_note = (
        f"log origin: {result['origin']} (derived; --origin chooses one, e.g. your-domain/log)"
        if result["origin_derived"]
        else f"log origin: {result['origin']}"
    )
    region_note = "no area of service: positions anywhere on Earth are accepted (see --region)"
    if region_file is not None:
        settings = setup.settings_for(data_dir, database_url)
        result["region"] = setup.set_region(settings, region_file, margin_km)
        region_note = f"area of service: {region_file} with a {margin_km:g} km margin"
    emit(
        result,
        as_json,
        f"[green]Initialised[/] {result['data_dir']}\n"
        f"database: {result['database']}\n"
        f"{escape(origin_note)}\n"
        + ("" if region_file else "[yellow]warning:[/] ")
        + f"{region_note}\n"
        f"log verifier key (give this to every party):\n  [bold]{result['verifier_key']}[/]",
    )


@cli.group()
def region() -> None:
    """The area this hub serves: records wholly outside it are refused."""


@region.command("set")
@click.argument("region_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@REGION_MARGIN
@DATA
@DATABASE
@JSON
def region_set(
    region_file: Path, margin_km: float, data_dir: Path, database_url: str | None, as_json: bool
) -> None:
    """Serve the area in a GeoJSON file (Polygon, MultiPolygon, Feature or FeatureCollection).

    The change is a hub entry in the log: every party sees when and how the area changed.
    """
    from parley.hub import setup

    done = setup.set_region(setup.settings_for(data_dir, database_url), region_file, margin_km)
    emit(
        done,
        as_json,
        f"area of service is now {region_file} with a {margin_km:g} km margin "
        f"(log entry {done['log_index']}, record {done['record']})",
    )


@region.command("clear")
@DATA
@DATABASE
@JSON
def region_clear(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Serve no particular area: positions anywhere are accepted. Logged like a change."""
    from parley.hub import setup

    done = setup.set_region(setup.settings_for(data_dir, database_url), None, 0)
    emit(done, as_json, f"no area of service any more (log entry {done['log_index']})")


@cli.command()
@DATA
@DATABASE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(data_dir: Path, database_url: str | None, host: str, port: int) -> None:
    """Serve the hub over HTTP."""
    from parley.api import serve as server
    from parley.hub import setup

    server.serve(setup.settings_for(data_dir, database_url), host, port)


@cli.command()
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to write (mode 0600); the public key goes beside it as .pub.json.",
)
@JSON
def keygen(out_path: Path, as_json: bool) -> None:
    """Make a party's Ed25519 key pair, on the party's own machine."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from parley.parties import keys

    if out_path.exists():
        raise click.ClickException(f"{out_path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    keys.write_private_key(out_path, key)
    public = keys.public_path_for(out_path)
    keys.write_public_key(public, key.public_key())
    data = {
        "private_key": str(out_path),
        "public_key": str(public),
        "x": keys.public_jwk(key.public_key())["x"],
    }
    emit(
        data,
        as_json,
        f"private key: {out_path} (keep it)\npublic key:  {public} (give it to the hub operator)",
    )


@cli.group()
def party() -> None:
    """Register and list parties."""


@party.command("add")
@click.argument("party_id")
@click.option("--name", required=True, help="Human-readable name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["member", "notifier", "observer"]),
    help="What the party may submit.",
)
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
)
@DATA
@DATABASE
@JSON
def party_add(
    party_id: str,
    name: str,
    role: str,
    public_key: Path,
    data_dir: Path,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Register a party; prints its API token once (the hub keeps only its hash)."""
    from parley.hub import setup
    from parley.parties.keys import load_public_key

    settings = setup.settings_for(data_dir, database_url)
    token = setup.add_party(settings, party_id, name, role, load_public_key(public_key))
    emit(
        {"id": party_id, "name": name, "role": role, "token": token},
        as_json,
        f"party [bold]{party_id}[/] ({role}) registered.\ntoken (shown once): [bold]{token}[/]",
    )


@party.command("list")
@DATA
@DATABASE
@JSON
def party_list(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """List registered parties."""
    from parley.hub import setup

    parties = setup.open_store(setup.settings_for(data_dir, database_url)).parties()
    table = Table("id", "name", "role", "public key", "registered (UTC)")
    for p in parties:
        table.add_row(p.id, p.name, p.role, p.public_key, p.created_at)
    emit([p.public() for p in parties], as_json, table)


@cli.command()
@DATA
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the scenario, then exit.")
@JSON
def demo(data_dir: Path, host: str, port: int, no_serve: bool, as_json: bool) -> None:
    """Set up a hub with a real scenario on SQLite, then serve it."""
    from parley.api import serve as server
    from parley.cli import demo as scenario
    from parley.hub import setup

    summary = scenario.build(data_dir, f"http://{host}:{port}", quiet=as_json)
    if no_serve:
        emit(summary, as_json, scenario.describe(summary))
        return
    settings = setup.settings_for(data_dir, None)
    # A witness for each member, served by this process; the hub asks them to cosign.
    witnesses = scenario.DemoWitnesses(data_dir, settings)
    try:
        summary["witnesses"] = witnesses.described
        emit(summary, as_json, scenario.describe(summary))
        server.serve(witnesses.configure(settings), host, port)
    finally:
        witnesses.stop()
