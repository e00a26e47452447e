"""Checking an evidence file offline: the manifest, the latest checkpoint and its cosignatures,
the consistency proofs, checkpoints the checking party saved, then each item in order
(parley.client.evidence_timeline)."""

from __future__ import annotations

from typing import Any

from parley.client import evidence_timeline
from parley.client.evidence import (
    PROOF_KEYS,
    Checked,
    EvidenceError,
    Report,
    _b64,
    _exact,
    _witness_verifiers,
    check_checkpoint,
    open_manifest,
)
from parley.errors import ParleyError
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.policy import Policy


def check(
    data: dict[str, Any],
    log_key: str,
    policy: Policy | None = None,
    saved: list[str] | None = None,
) -> Report:
    """Check everything in an evidence file with the log key alone (and a witness policy);
    ``saved``: checkpoints the checking party kept, each of which must be consistent with the
    file's. Raises EvidenceError only when the file cannot be read at all; each item's failure
    is reported on its own line."""
    try:
        verifier = note.Verifier.from_key(log_key)
    except ParleyError as exc:
        raise EvidenceError(f"the log key: {exc.detail}") from None
    manifest = open_manifest(data, verifier)
    witnesses = _witness_verifiers(manifest, policy)
    checks: list[Checked] = []
    latest_label = f"the latest checkpoint (size {manifest['latest_size']})"
    latest: cp.Checkpoint | None = None
    try:
        latest, cosigned = check_checkpoint(str(data["checkpoint"]), verifier, witnesses, policy)
        if latest.size != manifest["latest_size"]:
            raise EvidenceError(f"it has size {latest.size}, the manifest says otherwise")
        checks.append(
            Checked(
                latest_label,
                True,
                event=f"signed by {verifier.name}"
                + (f", cosigned by {', '.join(cosigned)}" if cosigned else ""),
            )
        )
    except ParleyError as exc:
        checks.append(Checked(latest_label, False, exc.detail))
    roots = _proven_roots(data, manifest, latest, checks)
    for text in saved or []:
        checks.append(_saved(text, verifier, latest, roots))
    timeline = evidence_timeline.items(data, manifest, log_key, policy, witnesses, roots, checks)
    return Report(manifest, checks, timeline)


def _proven_roots(
    data: dict[str, Any],
    manifest: dict[str, Any],
    latest: cp.Checkpoint | None,
    checks: list[Checked],
) -> dict[int, bytes]:
    """Sizes whose roots consistency proofs tie to the latest checkpoint's tree."""
    roots: dict[int, bytes] = {}
    if latest is not None:
        roots[latest.size] = latest.root
    proofs = data["consistency"]
    if not isinstance(proofs, list):
        checks.append(Checked("the consistency proofs", False, "not a list"))
        return roots
    given = [p["from"] for p in proofs if isinstance(p, dict) and isinstance(p.get("from"), int)]
    for size in manifest["proofs"]:
        if size not in given:
            checks.append(
                Checked(
                    f"the consistency proof from size {size}",
                    False,
                    "listed by the hub's manifest, missing from the file",
                )
            )
    if len(given) != len(proofs) or sorted(given) != sorted(manifest["proofs"]):
        checks.append(Checked("the consistency proofs", False, "they differ from the manifest's"))
    for i, found in enumerate(proofs):
        label = f"consistency proof {i + 1}"
        try:
            proof = _exact(found, PROOF_KEYS, label)
            old, new = proof["from"], proof["to"]
            label = f"consistency proof {i + 1} (size {old} to {new})"
            if latest is None or new != latest.size:
                raise EvidenceError("it does not lead to the latest checkpoint")
            if (
                not isinstance(old, int)
                or isinstance(old, bool)
                or not isinstance(proof["proof"], list)
            ):
                raise EvidenceError("its sizes or hashes are malformed")
            old_root = _b64(proof["old_root"], "its old root")
            hashes = [_b64(h, "a proof hash") for h in proof["proof"]]
            merkle.verify_consistency(old, new, old_root, latest.root, hashes)
            roots[old] = old_root
            checks.append(Checked(label, True, event="links its checkpoint to the latest"))
        except ParleyError as exc:
            checks.append(Checked(label, False, exc.detail))
    return roots


def _saved(
    text: str, verifier: note.Verifier, latest: cp.Checkpoint | None, roots: dict[int, bytes]
) -> Checked:
    label = "the checkpoint you saved"
    try:
        mine = cp.verify_checkpoint(text, verifier, verifier.name)
    except ParleyError as exc:
        return Checked(label, False, f"it does not verify with the log key: {exc.detail}")
    label = f"the checkpoint you saved (size {mine.size})"
    if latest is None:
        return Checked(label, False, "the file's latest checkpoint does not verify")
    if mine.size > latest.size:
        return Checked(label, False, f"it is newer than the file's (size {latest.size})")
    known = roots.get(mine.size)
    if known is None:
        return Checked(
            label,
            False,
            f"the file holds no proof linking size {mine.size} to its latest checkpoint "
            f"(size {latest.size}): make it again with --checkpoint",
        )
    if known != mine.root:
        return Checked(
            label,
            False,
            f"it is not consistent with the file's latest checkpoint (size {latest.size}): "
            "the log showed you another history",
        )
    return Checked(label, True, event=f"consistent with the latest checkpoint (size {latest.size})")
