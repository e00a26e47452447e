"""Fork evidence: two checkpoints of one origin, both signed by the log's key, that no single
append-only log could have signed. Anyone holding the log's verifier key checks it offline.

The file (JSON, ``format: parley-fork-evidence/1``)::

    {
      "format": "parley-fork-evidence/1",
      "origin": "<origin line>",
      "kind": "split-view" | "rollback" | "rewrite",
      "detected_at": "<ISO 8601>", "detected_by": "<mirror name>",
      "explanation": "<what was seen, in words>",
      "a": {"note": "<signed checkpoint>", "source": "<where it came from>"},
      "b": {"note": "<signed checkpoint>", "source": "..."},
      "consistency": null | {
        "from": m, "to": n,                       m = the smaller size, n = the larger
        "old_root": "<base64: the root of the first m entries of the size-n tree>",
        "proof": ["<base64 hash>", ...]           RFC 9162 consistency proof from m to n
      }
    }

What a checked file proves:

- Same size, different roots: immediate. A log signs one tree per size.
- Different sizes m < n: ``proof`` verifies (RFC 9162 §2.1.4.2) that ``old_root`` is the
  size-m prefix of the size-n checkpoint's tree, and ``old_root`` differs from the size-m
  checkpoint's root. Two different size-m prefixes of one tree would take a SHA-256 collision,
  so the size-m checkpoint is not a prefix of the size-n one: the log signed two histories.
  The proof comes from tiles the mirror fetched and checked against the larger checkpoint; the
  file does not need them, only the proof's log2(n) hashes.

It does not say which branch is the "real" one, nor who saw which: ``source`` is the mirror's
word only.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.errors import CheckpointError, LogError, ProofError
from parley.log import checkpoint as cp
from parley.log import note
from parley.log.merkle import verify_consistency

FORMAT = "parley-fork-evidence/1"


class EvidenceError(LogError):
    title = "Not a fork proof"
    slug = "not-a-fork-proof"


@dataclass(frozen=True)
class Side:
    note: str
    source: str

    @property
    def checkpoint(self) -> cp.Checkpoint:
        return cp.parse(note.parse_note(self.note)[0])


@dataclass(frozen=True)
class Consistency:
    old_size: int
    new_size: int
    old_root: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class Evidence:
    origin: str
    kind: str
    detected_at: str
    detected_by: str
    explanation: str
    a: Side
    b: Side
    consistency: Consistency | None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "origin": self.origin,
            "kind": self.kind,
            "detected_at": self.detected_at,
            "detected_by": self.detected_by,
            "explanation": self.explanation,
            "a": {"note": self.a.note, "source": self.a.source},
            "b": {"note": self.b.note, "source": self.b.source},
            "consistency": None,
        }
        if self.consistency is not None:
            c = self.consistency
            doc["consistency"] = {
                "from": c.old_size,
                "to": c.new_size,
                "old_root": _b64(c.old_root),
                "proof": [_b64(h) for h in c.proof],
            }
        return doc

    def write(self, path: Path) -> None:
        """Write the file durably (fsync, atomic rename): it outlives whatever happens next."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise EvidenceError(f"{what} is not a base64 string")
    try:
        # One spelling per value: a changed spare bit must not read as the same proof.
        return note.b64decode_strict(text, what)
    except note.NoteError as exc:
        raise EvidenceError(exc.detail) from None


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind):
        raise EvidenceError(f"the file's {name!r} is missing or not a {kind.__name__}")
    return value


def load(data: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise EvidenceError("the file is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EvidenceError(f"the file is not a {FORMAT} document")
    return doc


def verify(doc: dict[str, Any], log_key: str) -> str:
    """Check a fork evidence document against the log's verifier key; return what it proves,
    in one sentence. Raises ``EvidenceError`` (or a ``LogError``) when it proves no fork."""
    try:
        verifier = note.Verifier.from_key(log_key)
    except note.NoteError as exc:
        raise EvidenceError(f"--log-key: {exc.detail}") from None
    checkpoints = []
    for side in ("a", "b"):
        entry = _field(doc, side, dict)
        signed = _field(entry, "note", str)
        try:
            origin = cp.parse(note.parse_note(signed)[0]).origin
            checkpoints.append(cp.verify_checkpoint(signed, verifier, origin))
        except CheckpointError as exc:
            raise EvidenceError(
                f"checkpoint {side!r} is not signed by {verifier.name}: {exc.detail}"
            ) from None
    a, b = checkpoints
    if a.origin != b.origin:
        raise EvidenceError(
            f"the checkpoints are of two origins ({a.origin!r}, {b.origin!r}): no fork of one log"
        )
    if a.size == b.size:
        if a.root == b.root:
            raise EvidenceError(f"both checkpoints are of size {a.size} with the same root")
        return (
            f"the log {verifier.name} signed two different trees of size {a.size} "
            f"for origin {a.origin!r} (roots {_b64(a.root)} and {_b64(b.root)})"
        )
    small, large = (a, b) if a.size < b.size else (b, a)
    proof_doc = doc.get("consistency")
    if not isinstance(proof_doc, dict):
        raise EvidenceError(
            f"the checkpoints have sizes {small.size} and {large.size} and the file holds no "
            "consistency proof: a smaller checkpoint alone may simply be older"
        )
    if (proof_doc.get("from"), proof_doc.get("to")) != (small.size, large.size):
        raise EvidenceError(
            f"the consistency proof is from {proof_doc.get('from')} to {proof_doc.get('to')}, "
            f"not from {small.size} to {large.size}"
        )
    old_root = _unb64(proof_doc.get("old_root"), "consistency.old_root")
    hashes = proof_doc.get("proof")
    if not isinstance(hashes, list):
        raise EvidenceError("consistency.proof is not a list")
    proof = [_unb64(h, f"consistency.proof[{i}]") for i, h in enumerate(hashes)]
    if small.size == 0:
        raise EvidenceError("a size-0 checkpoint is a prefix of every tree")
    try:
        verify_consistency(small.size, large.size, old_root, large.root, proof)
    except ProofError as exc:
        raise EvidenceError(f"the consistency proof does not verify: {exc.detail}") from None
    if old_root == small.root:
        raise EvidenceError(
            f"the size-{small.size} checkpoint is a prefix of the size-{large.size} one: "
            "consistent, no fork"
        )
    return (
        f"the log {verifier.name} signed a size-{small.size} tree (root {_b64(small.root)}) "
        f"that is not a prefix of its size-{large.size} tree, whose first {small.size} "
        f"entries hash to {_b64(old_root)} (origin {a.origin!r})"
    )
