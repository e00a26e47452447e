"""Commands that set up and run a hub: init, region, serve, keygen, demo (party: cli/party.py)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from parley.cli.base import (
    DATA,
    DATABASE,
    JSON,
    REGION_FILE,
    REGION_MARGIN,
    cli,
    emit,
    out,
)


@cli.command()
@DATA
@DATABASE
@click.option("--origin", default=None, help="The log's origin line (default from settings).")
@REGION_FILE
@REGION_MARGIN
@click.option(
    "--tls",
    "tls_mode",
    type=click.Choice(["self-signed"]),
    default=None,
    help="Write a self-signed certificate and key (tls.crt, tls.key) for `parley serve`.",
)
@click.option(
    "--tls-name",
    "tls_names",
    multiple=True,
    help="A host name or address the certificate covers, besides localhost (repeatable).",
)
@JSON
def init(
    data_dir: Path,
    database_url: str | None,
    origin: str | None,
    region_file: Path | None,
    margin_km: float,
    tls_mode: str | None,
    tls_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a data directory: database, hub signing key and settings."""
    from parley.hub import setup

    if tls_names and tls_mode is None:
        raise click.UsageError("--tls-name needs --tls self-signed")
    result = setup.init(data_dir, database_url, origin)
    tls_note = ""
    if tls_mode == "self-signed":
        from parley.api import tls

        made = result["tls"] = tls.self_signed(data_dir, tls_names)
        tls_note = (
            f"\nTLS certificate {'written' if made['created'] else 'kept'}: {made['certificate']}"
            f" (names: {', '.join(made['names'])})\n"
            "its SHA-256 fingerprint (parties check it, or pin it):\n"
            f"  [bold]{made['sha256_fingerprint']}[/]"
        )
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
    if tls_note and not as_json:
        # emoji=False: a fingerprint's ":AB:" would otherwise print as an emoji.
        out.print(tls_note.lstrip("\n"), emoji=False)


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
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM certificate (chain) to serve HTTPS with (default: the data directory's tls.crt).",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--migrate", is_flag=True, help="Bring the database's schema up to date before serving."
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes serving the one port, each a whole hub on the one database "
    "(default: the workers setting, 1 unless parley.toml says otherwise; 0: one per core).",
)
def serve(
    data_dir: Path,
    database_url: str | None,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    migrate: bool,
    workers: int | None,
) -> None:
    """Serve the hub over HTTPS (with a certificate) or HTTP."""
    from parley.api import serve as server
    from parley.hub import setup

    server.serve(
        setup.settings_for(data_dir, database_url),
        host,
        port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        migrate=migrate,
        workers=workers,
    )


@cli.command()
@DATA
@DATABASE
@JSON
def migrate(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Bring the database's schema up to this version's (make a backup first)."""
    from parley.api import serve as server
    from parley.hub import setup

    settings = setup.settings_for(data_dir, database_url)
    before, head, _ = server.revisions(settings)
    server.schema(settings, migrate=True)
    done = {"database": server.mask(settings.database), "from": before, "to": head}
    emit(
        done,
        as_json,
        f"schema of {done['database']}: {before or 'none'} -> {head}"
        if before != head
        else f"schema of {done['database']} is up to date ({head})",
    )


@cli.command()
@DATA
@DATABASE
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Backup file to write (mode 0600: it holds the hub key).",
)
@JSON
def backup(data_dir: Path, database_url: str | None, out_path: Path, as_json: bool) -> None:
    """Back up a hub while it runs: keys, settings and a consistent copy of the database."""
    from parley.hub import backup as backups
    from parley.hub import setup

    done = backups.backup(setup.settings_for(data_dir, database_url), out_path)
    emit(done, as_json, f"backup written: {out_path} ({done['bytes']:,} bytes; keep it secret)")


@cli.command()
@click.argument("backup_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@DATA
@DATABASE
@JSON
def restore(backup_file: Path, data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Restore a backup into a new (empty) data directory and, for PostgreSQL, an empty database."""
    from parley.hub import backup as backups

    done = backups.restore(backup_file, data_dir, database_url)
    emit(
        done,
        as_json,
        f"restored into {data_dir}: start it with `parley serve --data {data_dir}`; parties' "
        "saved log state tells them if this backup is older than what they have seen",
    )


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
