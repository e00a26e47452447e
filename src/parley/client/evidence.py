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

import json
from dataclasses import dataclass, field
from typing import Any

from parley.errors import ParleyError
from parley.log import checkpoint as cp
from parley.log import note
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
    """Standard padded base64 with one spelling per value: a lenient decoder reads a changed
    spare bit before the padding as the same bytes, so a flipped byte would go unseen."""
    if not isinstance(text, str):
        raise EvidenceError(f"{what} is not base64 text")
    try:
        return note.b64decode_strict(text, what)
    except note.NoteError as exc:
        raise EvidenceError(exc.detail) from None


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


def party_key(manifest: dict[str, Any], party: str) -> Any:
    for p in manifest["parties"]:
        if isinstance(p, dict) and p.get("id") == party:
            return public_key_from_raw(b64url_decode(str(p.get("public_key"))))
    raise EvidenceError(f"the manifest gives no key for party {party!r}")
