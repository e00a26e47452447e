"""Commands that fetch and check receipts and logs, offline where they can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from parley.cli.base import (
    JSON,
    POLICY,
    cli,
    emit,
    err,
    trust_options,
)

if TYPE_CHECKING:
    from parley.transport import Trust


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
@trust_options
def receipt(
    submission_id: str,
    hub_url: str,
    token: str,
    out_path: Path | None,
    wait: float,
    trust: Trust,
) -> None:
    """Fetch a submission's receipt, to keep and verify offline."""
    import time

    deadline = time.monotonic() + wait
    with trust.client(hub_url, token=token) as http:
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
    help="The submitting party's public key file, or its key history (`parley party key "
    "history --json`, or GET /api/v1/parties/ID/keys), to check its signature too.",
)
@click.option(
    "--key-history",
    "key_history",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The log's key history (GET /log/key-rotations) to follow from --log-key, in place "
    "of the one the receipt carries.",
)
@POLICY
@JSON
def verify_receipt(
    receipt_file: Any,
    log_key: str | None,
    party_key: Path | None,
    key_history: Path | None,
    policy_path: Path | None,
    as_json: bool,
) -> None:
    """Check a receipt offline: signed checkpoint, inclusion proof, committed bytes, and with
    --policy the witnesses' cosignatures."""
    from parley.client import receipts
    from parley.log import policy

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
        receipts.load_party_key(party_key) if party_key else None,
        policy.load(policy_path) if policy_path else None,
        receipts.load_key_history(key_history) if key_history else None,
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
        + _rotated_note(proven)
        + _cosigned_note(proven)
        + "".join(f"\n  {escape(line)}" for line in lines),
    )


MISSING_LOG_KEY = (
    "no log key: give --log-key or set PARLEY_LOG_KEY to the hub's verifier key "
    "(name+keyid+base64). `parley init` printed it to the hub's operator, and the hub serves it "
    "at /log/verifier-key (compare that with a copy you got through a trusted channel)"
)


def _rotated_note(proven: dict[str, Any]) -> str:
    followed = proven.get("key_rotations_followed")
    if not followed:
        return ""
    return (
        f"; signed by log key {escape(str(proven['log_key']))}, reached from the given key "
        f"through {followed} key rotation(s) signed by both keys"
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
@trust_options
@JSON
def verify_log(
    url: str,
    log_key: str,
    state_path: Path | None,
    policy_path: Path | None,
    trust: Trust,
    as_json: bool,
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
        trust=trust,
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
        + _rotated_note(result)
        + _cosigned_note(result),
    )
