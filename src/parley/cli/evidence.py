"""`parley evidence` fetches the evidence about a record; `parley verify evidence` checks one
offline, with the log key alone, and prints (or writes as a page) its timeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from parley.cli.base import JSON, POLICY, cli, emit, err, out, trust_options
from parley.cli.verify import MISSING_LOG_KEY, verify

if TYPE_CHECKING:
    from parley.transport import Trust

SAVED = click.option(
    "--checkpoint",
    "saved",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A checkpoint you saved earlier (repeatable): the evidence must be consistent with it.",
)


@cli.command()
@click.argument("record_id")
@click.option("--hub", "hub_url", required=True, envvar="PARLEY_HUB", help="Hub base URL.")
@click.option("--token", required=True, envvar="PARLEY_TOKEN")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the evidence file here.",
)
@SAVED
@trust_options
def evidence(
    record_id: str,
    hub_url: str,
    token: str,
    out_path: Path,
    saved: tuple[Path, ...],
    trust: Trust,
) -> None:
    """Fetch one file with every signed submission about a site, movement, operation or
    incident that you may see, with their receipts and proofs, to check offline."""
    from parley.client.http import _answer
    from parley.log import checkpoint as cp
    from parley.log import note

    known = []
    for path in saved:
        text, _ = note.parse_note(path.read_text(encoding="utf-8"))
        known.append(str(cp.parse(text).size))
    params = {"known": ",".join(known)} if known else {}
    with trust.client(hub_url, token=token, timeout=60) as http:
        found = _answer(http.get(f"/api/v1/evidence/{record_id}", params=params))
    # Compact, with no whitespace between tokens: every byte of the file then means something,
    # so every change to it is caught.
    out_path.write_text(json.dumps(found, separators=(",", ":")), encoding="ascii")
    err.print(f"evidence ({len(found.get('items', []))} items) written to {out_path}")


@verify.command("evidence")
@click.argument("evidence_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--log-key",
    envvar="PARLEY_LOG_KEY",
    help="The hub's verifier key (name+keyid+base64), obtained through a trusted channel.",
)
@POLICY
@SAVED
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the timeline and a map as one offline HTML page.",
)
@JSON
def verify_evidence(
    evidence_file: Path,
    log_key: str | None,
    policy_path: Path | None,
    saved: tuple[Path, ...],
    html_path: Path | None,
    as_json: bool,
) -> None:
    """Check an evidence file with no access to the hub: every signature, inclusion and
    consistency proof and cosignature; print its timeline in UTC with ✓ or the failure."""
    from parley.client import evidence, evidence_check, evidence_page
    from parley.log import policy

    if not log_key:
        raise click.ClickException(MISSING_LOG_KEY)
    data = evidence.load(evidence_file.read_bytes())
    report = evidence_check.check(
        data,
        log_key,
        policy.load(policy_path) if policy_path else None,
        [p.read_text(encoding="utf-8") for p in saved],
    )
    if html_path is not None:
        html_path.write_text(evidence_page.html_page(report), encoding="utf-8")
        err.print(f"page written to {html_path}")
    if as_json:
        emit(evidence_page.as_json(report), True)
    else:
        for text in evidence_page.text_lines(report):
            out.print(escape(text), highlight=False)
    if not report.ok:
        sys.exit(1)
