"""``parley log``: the hub's own log key."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from parley.cli.base import DATA, DATABASE, JSON, cli, emit


@cli.group("log")
def log_group() -> None:
    """The hub's log and its signing key."""


@log_group.command("rotate-key")
@DATA
@DATABASE
@JSON
def rotate_key(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """Replace the log's signing key with a new one.

    The new key is announced in a checkpoint signed by both the old and the new key; parties
    that pinned an older key follow that chain (GET /log/key-rotations), and receipts made
    under the old key keep verifying. The old private key stays in the data directory but
    signs nothing more. A running `parley serve` on this database switches at its next
    checkpoint."""
    from parley.hub import setup

    settings = setup.settings_for(data_dir, database_url)
    result = setup.rotate_log_key(settings)
    emit(
        result,
        as_json,
        f"[green]log key rotated[/] at tree size {result['size']} "
        f"(rotation {result['rotations']} of {escape(result['origin'])})\n"
        f"old key (kept, no longer signs): {escape(result['old_key'])}\n"
        f"new key in force:\n  [bold]{escape(result['new_key'])}[/]\n"
        f"new private key: {escape(result['key_file'])}\n"
        "parties that pinned an older key follow the rotation chain at /log/key-rotations; "
        "give new parties the new key",
    )
