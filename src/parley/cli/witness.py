"""``parley witness``: run a C2SP tlog-witness that cosigns a hub's checkpoints (or any log's)
only after checking they extend what it cosigned before."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from parley.cli.base import JSON, cli, emit

WITNESS_DATA = click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Witness data directory (its key, mode 0600, and its SQLite state).",
)


@cli.group()
def witness() -> None:
    """Run a witness (c2sp.org/tlog-witness): a party's or a monitor's check on the hub."""


@witness.command("init")
@WITNESS_DATA
@click.option(
    "--name",
    required=True,
    help="The witness's name, e.g. witness.mission.example/w1 (no spaces or plus signs).",
)
@JSON
def init(data_dir: Path, name: str, as_json: bool) -> None:
    """Create the witness's Ed25519 cosigning key and empty state; print its verifier key."""
    from parley.witness import datadir

    signer = datadir.init(data_dir, name)
    vkey = signer.verifier().key_string()
    emit(
        {
            "data_dir": str(data_dir),
            "key_file": str(datadir.key_path(data_dir)),
            "name": signer.name,
            "verifier_key": vkey,
        },
        as_json,
        f"[green]Initialised[/] witness {escape(signer.name)} in {escape(str(data_dir))}\n"
        "witness verifier key (give this to the hub operator and to every party):\n"
        f"  [bold]{escape(vkey)}[/]",
    )


@witness.command("add-log")
@WITNESS_DATA
@click.option("--origin", required=True, help="The log's origin line, e.g. hub.example/log.")
@click.option(
    "--log-key",
    "log_key",
    required=True,
    help="The log's verifier key (name+keyid+base64), as `parley init` printed it.",
)
@JSON
def add_log(data_dir: Path, origin: str, log_key: str, as_json: bool) -> None:
    """Cosign checkpoints of ORIGIN signed by LOG-KEY (a running witness picks it up at once)."""
    from parley.witness import datadir

    verifier, added = datadir.add_log(data_dir, origin, log_key)
    state = "added" if added else "already trusted"
    emit(
        {"origin": origin, "log_key": verifier.key_string(), "added": added},
        as_json,
        f"{state}: {escape(origin)} signed by {escape(verifier.key_string())}\n"
        "its first checkpoint will be trusted on first use; check it against the hub's.",
    )


@witness.command("status")
@WITNESS_DATA
@JSON
def status(data_dir: Path, as_json: bool) -> None:
    """Show the witness's key, its logs, what it last cosigned and any fork it has seen."""
    from parley.witness import datadir

    signer = datadir.load_signer(data_dir)
    store = datadir.open_store(data_dir)
    logs = []
    for origin in store.origins():
        latest = store.latest(origin)
        logs.append(
            {
                "origin": origin,
                "log_keys": store.log_keys(origin),
                "tree_size": latest.tree_size if latest else None,
                "root": latest.root.hex() if latest else None,
                "updated_at": latest.updated_at if latest else None,
            }
        )
    sightings = [
        {"at": s.at, "origin": s.origin, "kind": s.kind, "detail": s.detail}
        for s in store.sightings()
    ]
    lines = [f"witness {escape(signer.name)}: {escape(signer.verifier().key_string())}"]
    for entry in logs:
        size = (
            "nothing cosigned yet" if entry["tree_size"] is None else f"size {entry['tree_size']}"
        )
        lines.append(f"  {escape(str(entry['origin']))}: {size}")
    for s in sightings:
        lines.append(
            f"  [red]{s['kind']} seen[/] for {escape(str(s['origin']))}: {escape(str(s['detail']))}"
        )
    emit(
        {
            "name": signer.name,
            "verifier_key": signer.verifier().key_string(),
            "logs": logs,
            "sightings": sightings,
        },
        as_json,
        "\n".join(lines),
    )


@witness.command("serve")
@WITNESS_DATA
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True, type=click.IntRange(0, 65535))
def serve(data_dir: Path, host: str, port: int) -> None:
    """Serve POST /add-checkpoint (and GET /<origin hash>/checkpoint) over HTTP."""
    from parley.witness import app

    app.serve(data_dir, host, port)
