"""`parley party`: register parties and run their lifecycle (docs/operations.md).

Every command here works on the data directory, not over HTTP: there is no operator token, and
whoever holds the data directory runs the hub. A running `parley serve` on the same data
directory applies each change at the next request (see parley.hub.parties).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from parley.cli.base import DATA, DATABASE, JSON, cli, emit

EXPIRES_IN = click.option(
    "--expires-in",
    "expires_in",
    type=float,
    default=None,
    help="Days until the token stops working (default: it does not expire).",
)
PUBLIC_KEY = click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The party's public key file (.pub.json from `parley keygen`), never its private key.",
)


@cli.group()
def party() -> None:
    """Register parties, list them, and suspend, resume, retire or rotate one."""


@party.command("add")
@click.argument("party_id")
@click.option("--name", required=True, help="Human-readable name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["member", "notifier", "observer"]),
    help="What the party may submit.",
)
@PUBLIC_KEY
@EXPIRES_IN
@DATA
@DATABASE
@JSON
def party_add(
    party_id: str,
    name: str,
    role: str,
    public_key: Path,
    expires_in: float | None,
    data_dir: Path,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Register a party; prints its API token once (the hub keeps only its hash)."""
    from parley.hub import parties, setup

    settings = setup.settings_for(data_dir, database_url)
    key = parties.check_public_key_file(public_key)
    added = parties.register(settings, party_id, name, role, key, expires_in)
    token = added["token"]
    emit(
        {
            "id": party_id,
            "name": name,
            "role": role,
            "token": token,
            "key_thumbprint": added["key_thumbprint"],
            "log_index": added["log_index"],
        },
        as_json,
        f"party [bold]{party_id}[/] ({role}) registered, announced to every party in log entry "
        f"{added['log_index']}.\nkey thumbprint (RFC 7638; the party checks it is its key): "
        f"{added['key_thumbprint']}\ntoken (shown once): [bold]{token}[/]",
    )


@party.command("list")
@DATA
@DATABASE
@JSON
def party_list(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """List registered parties, their status, and the authentications the running hub refused
    (per party and address; only the data directory's holder can read them)."""
    from parley.hub import hubrecords, refusals, setup

    store = setup.open_store(setup.settings_for(data_dir, database_url))
    try:
        # the hub's own entry, the author of its records, is no party anyone registered
        parties = [p for p in store.parties() if p.id != hubrecords.HUB]
    finally:
        store.close()
    refused = refusals.read(data_dir)
    table = Table("id", "name", "role", "status", "public key", "registered (UTC)", "refused")
    for p in parties:
        count = sum(int(r.get("refused", 0)) for r in refused if r.get("party") == p.id)
        status = p.status if p.status_since is None else f"{p.status} since {p.status_since}"
        table.add_row(p.id, p.name, p.role, status, p.public_key, p.created_at, str(count))
    listed = [
        {
            **p.public(),
            "token_expires_at": p.token_expires_at,
            "refused_authentications": sum(
                int(r.get("refused", 0)) for r in refused if r.get("party") == p.id
            ),
        }
        for p in parties
    ]
    emit(listed, as_json, table)


@party.command("refusals")
@DATA
@DATABASE
@JSON
def party_refusals(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Authentications the hub serving this data directory refused, per party and address
    (counted since it started; unknown tokens have no party). An alarm: repeated refusals.

    The counts are the data directory's, whichever database it serves (--database is taken for
    the same command line as the other party commands)."""
    from parley.hub import refusals

    found = refusals.read(data_dir)
    table = Table("party", "address", "refused", "last (UTC)", "alarm")
    for r in found:
        table.add_row(
            str(r.get("party") or "-"),
            str(r.get("source") or "-"),
            str(r.get("refused")),
            str(r.get("last")),
            "ALARM" if r.get("alarm") else "",
        )
    emit(found, as_json, table)


def _status(
    party_id: str, status: str, data_dir: Path, database_url: str | None, as_json: bool
) -> None:
    from parley.hub import parties, setup

    done = parties.set_status(setup.settings_for(data_dir, database_url), party_id, status)
    emit(
        done,
        as_json,
        f"party [bold]{escape(party_id)}[/] is now {status} (was {done['previous']}), "
        f"log entry {done['log_index']}",
    )


STATUS_COMMANDS = (
    (
        "suspend",
        "suspended",
        "Refuse the party's token and signatures until `party resume`; its records stay.",
    ),
    ("resume", "active", "Let a suspended party act again, with the token and key it had."),
    (
        "retire",
        "retired",
        "End the party's part for good: token and signatures refused, records and keys kept.",
    ),
)


def _status_command(status: str) -> Callable[..., None]:
    def command(party_id: str, data_dir: Path, database_url: str | None, as_json: bool) -> None:
        _status(party_id, status, data_dir, database_url, as_json)

    return command


for _name, _status_name, _help in STATUS_COMMANDS:
    party.command(_name, help=_help)(
        click.argument("party_id")(DATA(DATABASE(JSON(_status_command(_status_name)))))
    )


@party.group("token")
def token() -> None:
    """The party's API token."""


@token.command("rotate")
@click.argument("party_id")
@EXPIRES_IN
@DATA
@DATABASE
@JSON
def token_rotate(
    party_id: str, expires_in: float | None, data_dir: Path, database_url: str | None, as_json: bool
) -> None:
    """Give the party a new token, printed once; the old one stops at once."""
    from parley.hub import parties, setup

    done = parties.rotate_token(setup.settings_for(data_dir, database_url), party_id, expires_in)
    until = f", valid until {done['expires_at']}" if done["expires_at"] else ""
    emit(
        done,
        as_json,
        f"new token for [bold]{escape(party_id)}[/] (shown once{until}): [bold]{done['token']}[/]"
        f"\nthe old token is refused from now on (log entry {done['log_index']})",
    )


@party.group("key")
def key() -> None:
    """The party's signing key, and its history."""


@key.command("endorse")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The party's current private key file (stays on this machine).",
)
@click.option(
    "--new",
    "new_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The new public key file (.pub.json).",
)
@click.option("--party", "party_id", required=True, envvar="PARLEY_PARTY")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def key_endorse(key_path: Path, new_path: Path, party_id: str, out_path: Path) -> None:
    """Run by the party, on its own machine: sign its new public key with its current key, for
    the operator's `party key rotate --endorsement`."""
    from parley.hub import parties
    from parley.parties import endorsement, keys

    made = endorsement.endorse(
        keys.load_private_key(key_path), party_id, parties.check_public_key_file(new_path)
    )
    out_path.write_text(made + "\n")
    click.echo(f"endorsement written to {out_path}: give it to the hub operator with {new_path}")


@key.command("rotate")
@click.argument("party_id")
@PUBLIC_KEY
@click.option(
    "--endorsement",
    "endorsement_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The party's endorsement of the new key by its current one (`party key endorse`), "
    "where the party still has that key; logged with the rotation.",
)
@DATA
@DATABASE
@JSON
def key_rotate(
    party_id: str,
    public_key: Path,
    endorsement_path: Path | None,
    data_dir: Path,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Put a new public key in force for the party. Records it signed before keep verifying
    against the key in force when they were received (see `party key history`)."""
    from parley.hub import parties, setup

    settings = setup.settings_for(data_dir, database_url)
    endorsed = endorsement_path.read_text() if endorsement_path else None
    done = parties.rotate_key(
        settings, party_id, parties.check_public_key_file(public_key), endorsed
    )
    emit(
        done,
        as_json,
        f"party [bold]{escape(party_id)}[/] signs with {done['public_key']['x']} from "
        f"{done['valid_from']}, in {parties.KEY_GRACE_S:g} s so that every hub process knows "
        f"it by then (log entry {done['log_index']}); records received before keep verifying "
        "with the earlier key, which is refused after",
    )


@key.command("history")
@click.argument("party_id")
@DATA
@DATABASE
@JSON
def key_history(party_id: str, data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Every key the party has had and when each was in force: give this file to
    `parley verify receipt --party-key` to check records made before a rotation."""
    from parley.hub import parties, setup

    store = setup.open_store(setup.settings_for(data_dir, database_url))
    try:
        history = parties.key_history(store, party_id)
    finally:
        store.close()
    table = Table("public key", "valid from (UTC)", "valid until (UTC)", "log entry")
    for k in history:
        table.add_row(
            k["public_key"]["x"], k["valid_from"], k["valid_until"] or "-", str(k["log_index"])
        )
    emit(history, as_json, table)
