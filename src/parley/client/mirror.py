"""Following a hub's log from outside: ``parley verify log`` (and, later, ``parley mirror``)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from parley.errors import TileError
from parley.log import keychain, note
from parley.log.policy import Policy
from parley.log.verifier import VerifierState, verify_log
from parley.transport import Trust


def _fetcher(client: httpx.Client) -> Any:
    def fetch(path: str) -> bytes:
        response = client.get(path)
        if response.status_code != 200:
            raise TileError(f"the hub answered {response.status_code} for {path}")
        return response.content

    return fetch


def verify_remote(
    url: str,
    log_key: str,
    state_path: Path | None,
    progress: bool = True,
    policy: Policy | None = None,
    trust: Trust | None = None,
) -> dict[str, Any]:
    """Verify the log at ``url`` (the hub, or its ``/log`` prefix); keep state if asked.
    With ``policy``, the checkpoint must carry the cosignatures its quorum needs."""
    verifier = note.Verifier.from_key(log_key)
    base = url.rstrip("/")
    if not base.endswith("/log"):
        base += "/log"
    state = VerifierState.load(state_path) if state_path and state_path.exists() else None
    with (trust or Trust()).client(base + "/", timeout=60) as client:
        if progress:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
            ) as bar:
                task = bar.add_task("verifying entries", total=None)
                new = verify_log(
                    _fetcher(client),
                    verifier,
                    verifier.name,
                    state,
                    lambda done, total: bar.update(task, completed=done, total=total),
                    policy,
                )
        else:
            new = verify_log(_fetcher(client), verifier, verifier.name, state, policy=policy)
    if state_path:
        new.save(state_path)
    # The key that signed the checkpoint: the pinned one, or one it rotated to.
    _, signer = keychain.follow(verifier, new.rotations).verify_detailed(new.note)
    return {
        "origin": new.checkpoint.origin,
        "size": new.size,
        "root": base64.b64encode(new.root).decode("ascii"),
        "previous_size": state.size if state else None,
        "log_key": signer.key_string(),
        "key_rotations_followed": len(new.rotations),
        "cosignatures": _cosignatures(new.note, signer, policy),
    }


def _cosignatures(
    signed: str, verifier: note.Verifier, policy: Policy | None
) -> list[dict[str, Any]]:
    if policy is None:
        return []
    _, verified = policy.check_detailed(signed, verifier, verifier.name)
    return [
        {"witness": policy.witness_name(v), "key_name": v.name, "time": v.timestamp}
        for v in verified
    ]
