"""An evidence file, and its offline check: who was told what, when, provably.

The file (JSON, ``format: parley-evidence/1``), built by :mod:`parley.hub.evidence`::

    {
      "format": "parley-evidence/1",
      "manifest": "<compact JWS signed with the hub's log key, kid 'hub'>",
      "items": [<a parley receipt per submission, as /api/v1/submissions/{id}/receipt serves>],
      "checkpoint": "<the latest signed checkpoint, with any witness cosignatures>",
      "consistency": [{"from": m, "old_root": "<base64>", "to": n, "proof": ["<base64>", ...]}]
    }

The manifest's payload is ``{"kind": "evidence-manifest", "party": "hub", "body": {...}}`` and
its body names the subject, the party the file was made for and when, the log's origin, every
item (role, id, log index, kind), the conflicts and alerts as that party may see them, the
parties the file names with their public keys, the latest checkpoint's size and the witnesses'
cosignature keys. Every byte of the file is covered: the manifest by the hub's signature, each
receipt by its own check, the checkpoints by the log key (and every signature line on them by a
key the file or the policy names), each consistency proof by the roots it links. docs/evidence.md
says what that proves and what it cannot.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from parley.errors import ParleyError
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.policy import Policy
from parley.parties import jws
from parley.parties.keys import b64url_decode, public_key_from_raw

FORMAT = "parley-evidence/1"
MANIFEST_KIND = "evidence-manifest"
SUBJECT_KINDS = ("site", "movement", "operation", "incident")
FILE_KEYS = {"format", "manifest", "items", "checkpoint", "consistency"}
MANIFEST_KEYS = {
    "format",
    "subject",
    "made_for",
    "made_at",
    "origin",
    "items",
    "conflicts",
    "alerts",
    "parties",
    "latest_size",
    "proofs",
    "witnesses",
}
RECEIPT_KEYS = {
    "version",
    "origin",
    "index",
    "tree_size",
    "entry",
    "inclusion_proof",
    "checkpoint",
    "submission",
}
SUBMISSION_KEYS = {"id", "kind", "party", "received_at", "jws", "salt"}
PROOF_KEYS = {"from", "old_root", "to", "proof"}


class EvidenceError(ParleyError):
    """The file cannot be read as evidence at all (not the failure of one item)."""

    status = 422
    title = "Evidence does not verify"
    slug = "bad-evidence"


@dataclass
class Checked:
    """One verified (or not) statement of the file."""

    label: str  # names the item: "item 3 (acknowledgement 5f.. by bravo)"
    ok: bool
    failure: str | None = None
    at: str | None = None  # UTC time of the event, for the timeline
    event: str | None = None  # what happened, in words
    details: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    manifest: dict[str, Any]
    checks: list[Checked]  # the file's structure: checkpoint, proofs, items present
    timeline: list[Checked]  # events in time order

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and all(c.ok for c in self.timeline)

    def failures(self) -> list[str]:
        return [f"{c.label}: {c.failure}" for c in [*self.checks, *self.timeline] if not c.ok]


def _b64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceError(f"{what} is not base64") from None


def _exact(found: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(found, dict):
        raise EvidenceError(f"{what} is not a JSON object")
    if set(found) != keys:
        odd = sorted(set(found) ^ keys)
        raise EvidenceError(f"{what} has unexpected or missing fields: {', '.join(odd)}")
    return found


def load(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EvidenceError(f"the file is not JSON: {exc}") from None
    found = _exact(data, FILE_KEYS, "the file")
    if found["format"] != FORMAT:
        raise EvidenceError(f"the file is not {FORMAT} evidence")
    return found


def open_manifest(data: dict[str, Any], verifier: note.Verifier) -> dict[str, Any]:
    """The manifest's body, once the hub's signature on it verifies with the log key."""
    try:
        parsed = jws.Parsed(str(data["manifest"]))
        if parsed.header.get("kid") != "hub":
            raise EvidenceError("the manifest is not signed by the hub")
        parsed.verify(verifier.public_key, "hub")
    except ParleyError as exc:
        raise EvidenceError(
            f"the manifest: the hub's signature does not verify with the log key ({exc.detail})"
        ) from None
    payload = parsed.payload
    if set(payload) != {"kind", "party", "body"} or payload["kind"] != MANIFEST_KIND:
        raise EvidenceError("the manifest is not an evidence manifest")
    body = _exact(payload["body"], MANIFEST_KEYS, "the manifest")
    if body["format"] != FORMAT or body["origin"] != verifier.name:
        raise EvidenceError(f"the manifest is for origin {body['origin']!r}, not {verifier.name!r}")
    return body


def _witness_verifiers(manifest: dict[str, Any], policy: Policy | None) -> list[Any]:
    found: dict[str, Any] = {}
    keys = [str(k) for k in manifest.get("witnesses") or []]
    for key in keys:
        try:
            v = note.CosignatureVerifier.from_key(key)
        except ParleyError as exc:
            raise EvidenceError(f"the manifest names a bad witness key: {exc.detail}") from None
        found[v.key_string()] = v
    if policy is not None:
        for w in policy.witnesses.values():
            found[w.key_string()] = w
    return list(found.values())


def check_checkpoint(
    signed: str,
    verifier: note.Verifier,
    witnesses: list[Any],
    policy: Policy | None,
) -> tuple[cp.Checkpoint, list[str]]:
    """The checkpoint, once its log signature (and the policy's quorum) verify and every
    signature line on it is by a known key and verifies; and who cosigned it."""
    if policy is not None:
        checkpoint, _ = policy.check(signed, verifier, verifier.name)
    else:
        checkpoint = cp.verify_checkpoint(signed, verifier, verifier.name)
    _, lines = note.parse_note(signed)
    known = {(v.name, v.key_id) for v in [verifier, *witnesses]}
    for line in lines:
        if (line.name, line.key_id) not in known:
            raise EvidenceError(f"a signature line by {line.name!r} is by no key the file names")
    if len({(line.name, line.key_id) for line in lines}) != len(lines):
        raise EvidenceError("a key signed the checkpoint twice")
    _, verified = note.open_note_detailed(signed, [verifier, *witnesses])
    return checkpoint, [v.name for v in verified if v.timestamp is not None]


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
    from parley.client import evidence_timeline

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


def party_key(manifest: dict[str, Any], party: str) -> Any:
    for p in manifest["parties"]:
        if isinstance(p, dict) and p.get("id") == party:
            return public_key_from_raw(b64url_decode(str(p.get("public_key"))))
    raise EvidenceError(f"the manifest gives no key for party {party!r}")
