"""``parley mirror`` (follow, verify, store, cosign and serve a hub's log, compare it with other
parties') and ``parley verify fork`` (check a fork evidence file offline)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click
from rich.markup import escape

from parley.cli.base import JSON, cli, emit, trust_options
from parley.cli.verify import verify

if TYPE_CHECKING:
    from parley.transport import Trust


@cli.command()
@click.option("--hub", required=True, help="The hub's URL (its /log is followed).")
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Your party's witness policy (its `log` line names the log's key).",
)
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Mirror data directory (created on first run: key mode 0600, SQLite state, forks/).",
)
@click.option("--log-key", default=None, help="The log's verifier key, if the policy has none.")
@click.option(
    "--peer",
    "peers",
    multiple=True,
    help="Another party's mirror or a witness to compare with (repeatable).",
)
@click.option(
    "--interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.05, 86400),
    help="Seconds between rounds.",
)
@click.option("--serve", "listen", default=None, help="HOST:PORT to serve the copy of the log on.")
@click.option("--once", is_flag=True, help="One round, then exit.")
@click.option("--name", default=None, help="The mirror's cosigner name (first run only).")
@click.option(
    "--workers", default=16, show_default=True, type=click.IntRange(1, 64), help="Parallel fetches."
)
@trust_options
@JSON
def mirror(
    hub: str,
    policy_path: Path,
    data_dir: Path,
    log_key: str | None,
    peers: tuple[str, ...],
    interval: float,
    listen: str | None,
    once: bool,
    name: str | None,
    workers: int,
    trust: Trust,
    as_json: bool,
) -> None:
    """Follow a hub's log: verify every entry, store the tiles, cosign, serve a copy, and prove
    it consistent with other parties' mirrors. Exits 3 on a fork (now or recorded before)."""
    from parley.mirroring.run import run

    code = run(
        data_dir,
        hub,
        policy_path,
        log_key,
        list(peers),
        interval,
        listen,
        once,
        as_json,
        name,
        workers,
        trust,
    )
    if code:
        sys.exit(code)


@verify.command("fork")
@click.argument("evidence_file", type=click.File("rb"))
@click.option("--log-key", required=True, help="The log's verifier key (name+keyid+base64).")
@JSON
def verify_fork(evidence_file: IO[bytes], log_key: str, as_json: bool) -> None:
    """Check a mirror's fork evidence offline: two checkpoints the log signed that no single
    history can hold. Exits 0 only when the file proves a fork."""
    from parley.mirroring import evidence

    doc = evidence.load(evidence_file.read())
    proven = evidence.verify(doc, log_key)
    emit(
        {"fork": True, "proves": proven, "kind": doc.get("kind"), "origin": doc.get("origin")},
        as_json,
        f"[bold red]fork proven:[/] {escape(proven)}",
    )
