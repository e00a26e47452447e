"""The ``parley`` command: parse, call the library, print, map errors to an exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parley import __version__, config
from parley.errors import ParleyError

# soft_wrap: long lines (URLs, keys, messages) stay whole, so piped output copies and pastes.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DATA = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=config.DEFAULT_DATA,
    show_default=True,
    help="Data directory (SQLite database, hub key, settings).",
)
DATABASE = click.option(
    "--database",
    "database_url",
    envvar="PARLEY_DATABASE_URL",
    default=None,
    help="Database URL, e.g. postgresql://user@host/db (default: SQLite in the data directory).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
POLICY = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Witness policy file: refuse a checkpoint without the cosignatures its quorum needs.",
)


def emit(data: Any, as_json: bool, human: str | Table | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif human is not None:
        out.print(human)


REGION_FILE = click.option(
    "--region",
    "region_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="GeoJSON of the area this hub serves; records wholly outside it are refused.",
)
REGION_MARGIN = click.option(
    "--margin",
    "margin_km",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="Kilometres added around the area.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parley")
def cli() -> None:
    """parley: a verifiable hub for deconfliction and protection notifications."""


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
    from parley.hub import setup

    setup.serve(setup.settings_for(data_dir, database_url), host, port)


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
        setup.serve(witnesses.configure(settings), host, port)
    finally:
        witnesses.stop()


@cli.command()
@click.argument("submission_id")
@click.option("--hub", "hub_url", required=True, envvar="PARLEY_HUB", help="Hub base URL.")
@click.option("--token", required=True, envvar="PARLEY_TOKEN")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the receipt here (default: standard output).",
)
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for a checkpoint.")
def receipt(
    submission_id: str, hub_url: str, token: str, out_path: Path | None, wait: float
) -> None:
    """Fetch a submission's receipt, to keep and verify offline."""
    import time

    deadline = time.monotonic() + wait
    with httpx.Client(base_url=hub_url, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            response = http.get(f"/api/v1/submissions/{submission_id}/receipt")
            if response.status_code != 202 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    from parley.client.http import _answer

    if response.status_code == 202:
        raise click.ClickException("no signed checkpoint covers this submission yet; retry")
    text = json.dumps(_answer(response), indent=2) + "\n"
    if out_path:
        out_path.write_text(text)
        err.print(f"receipt written to {out_path}")
    else:
        click.echo(text, nl=False)


@cli.group()
def verify() -> None:
    """Verify receipts and logs without trusting the hub."""


@verify.command("receipt")
@click.argument("receipt_file", type=click.File("r"))
@click.option(
    "--log-key",
    envvar="PARLEY_LOG_KEY",
    help="The hub's verifier key (name+keyid+base64), from `parley init`; or PARLEY_LOG_KEY.",
)
@click.option(
    "--party-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The submitting party's public key file, to check its signature too.",
)
@POLICY
@JSON
def verify_receipt(
    receipt_file: Any,
    log_key: str | None,
    party_key: Path | None,
    policy_path: Path | None,
    as_json: bool,
) -> None:
    """Check a receipt offline: signed checkpoint, inclusion proof, committed bytes, and with
    --policy the witnesses' cosignatures."""
    from parley.client import receipts
    from parley.log import policy
    from parley.parties.keys import load_public_key

    try:
        data = json.load(receipt_file)
    except ValueError as exc:
        raise click.ClickException(f"{receipt_file.name} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{receipt_file.name} is not a receipt")
    if not log_key:
        raise click.ClickException(MISSING_LOG_KEY)
    proven = receipts.verify(
        data,
        log_key,
        load_public_key(party_key) if party_key else None,
        policy.load(policy_path) if policy_path else None,
    )
    from parley.client.receipts_text import notified

    what, lines = notified(data)
    proven["notified"] = what
    emit(
        proven,
        as_json,
        f"[green]receipt verifies[/]: {proven['kind']} by {proven['party']} is entry "
        f"{proven['index']} of {proven['origin']} (tree size {proven['tree_size']}), "
        f"received {proven['received_at']}"
        + _cosigned_note(proven)
        + "".join(f"\n  {escape(line)}" for line in lines),
    )


MISSING_LOG_KEY = (
    "no log key: give --log-key or set PARLEY_LOG_KEY to the hub's verifier key "
    "(name+keyid+base64). `parley init` printed it to the hub's operator, and the hub serves it "
    "at /log/verifier-key (compare that with a copy you got through a trusted channel)"
)


def _cosigned_note(proven: dict[str, Any]) -> str:
    if not proven.get("policy_checked"):
        return ""
    import datetime

    names = [
        f"{c['witness']} at "
        + datetime.datetime.fromtimestamp(c["time"], datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for c in proven["cosignatures"]
    ]
    return "; the policy's quorum is met, cosigned by " + (", ".join(names) or "no witness")


@verify.command("log")
@click.argument("url")
@click.option("--log-key", required=True, envvar="PARLEY_LOG_KEY")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File keeping the last verified checkpoint (and its leaves) between runs.",
)
@POLICY
@JSON
def verify_log(
    url: str, log_key: str, state_path: Path | None, policy_path: Path | None, as_json: bool
) -> None:
    """Fetch checkpoint and tiles, recompute the tree, check it extends what was seen before."""
    from parley.client import mirror
    from parley.log import policy

    result = mirror.verify_remote(
        url,
        log_key,
        state_path,
        progress=not as_json,
        policy=policy.load(policy_path) if policy_path else None,
    )
    result["policy_checked"] = policy_path is not None
    emit(
        result,
        as_json,
        f"[green]log verifies[/]: {result['size']} entries, root {result['root']}"
        + (
            f", consistent with the {result['previous_size']} seen before"
            if result.get("previous_size") is not None
            else ""
        )
        + _cosigned_note(result),
    )


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ParleyError as exc:
        tried = getattr(exc, "url", None)
        err.print(f"[red]error:[/] {escape(exc.detail)}" + (f" ({escape(tried)})" if tried else ""))
        sys.exit(1)
    except OSError as exc:
        err.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except httpx.HTTPError as exc:
        try:
            tried = f" at {exc.request.url}"
        except RuntimeError:
            tried = ""
        err.print(f"[red]error:[/] cannot reach the hub{escape(tried)}: {escape(str(exc))}")
        sys.exit(1)


from parley.cli import cot as _cli_cot  # noqa: E402,F401  (registers its commands)
from parley.cli import daily as _cli_daily  # noqa: E402,F401  (registers its commands)
from parley.cli import importing as _cli_import  # noqa: E402,F401  (registers its commands)
from parley.cli import mirror as _cli_mirror  # noqa: E402,F401  (registers its commands)
from parley.cli import notify as _cli_notify  # noqa: E402,F401  (registers its commands)
from parley.cli import witness as _cli_witness  # noqa: E402,F401  (registers its commands)
