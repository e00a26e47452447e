"""The ``parley`` command group and what every command shares: options, consoles, output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from parley import __version__, config

if TYPE_CHECKING:
    from parley.transport import Trust

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

CA = click.option(
    "--ca",
    "ca_path",
    envvar="PARLEY_CA",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM file of the CA (or self-signed certificate) to trust for the hub's HTTPS.",
)
INSECURE = click.option(
    "--insecure",
    is_flag=True,
    envvar="PARLEY_INSECURE",
    help="Allow plain http:// to a hub that is not on this machine.",
)


def trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--ca and --insecure (or PARLEY_CA, PARLEY_INSECURE), given to ``command`` as ``trust``:
    what every command that fetches from a hub without a party's key takes."""

    @CA
    @INSECURE
    @functools.wraps(command)
    def wrapper(ca_path: Path | None, insecure: bool, **kw: Any) -> Any:
        return command(trust=trust(ca_path, insecure), **kw)

    return wrapper


def trust(ca_path: Path | None, insecure: bool) -> Trust:
    from parley.transport import Trust

    return Trust(ca_path, insecure)


def emit(data: Any, as_json: bool, human: str | Table | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif human is not None:
        out.print(human)


def one_by_id(ids: Iterable[str], given: str, what: str) -> str | None:
    """The id ``given`` names: itself, or the one id it starts (a short id, as the listings
    print them); None if it names none. Several ids starting with it is the user's to settle:
    random 8-character prefixes start to repeat beyond tens of thousands of records."""
    found = [i for i in ids if i == given or i.startswith(given)]
    if len(found) > 1 and given not in found:
        raise click.ClickException(
            f"{given!r} is the start of {len(found)} {what} ids you may see: give more of the id"
        )
    return given if given in found else (found[0] if found else None)


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
