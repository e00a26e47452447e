"""Checking a receipt offline: what was notified, by whom, at which position and time.

A receipt holds the submission's signed bytes, the log entry, an inclusion proof and a checkpoint
signed by the hub. With only the hub's verifier key, anyone can check that:

1. the checkpoint is signed by that key and names the expected origin;
2. the entry sits at ``index`` in the tree the checkpoint commits to (RFC 9162 inclusion proof);
3. the entry commits to exactly these signed bytes (a SHA-256, or a salted one for a record
   that was not shared with every party);
4. optionally, given the party's public key or its key history (the key in force when the hub
   received the record, for records made before a key rotation), that the party signed them;
5. after a rotation of the log's key, that the checkpoint's key descends from the pinned one
   through the log's key history (each step signed by both keys: ``parley.log.keychain``),
   from the receipt's own ``key_rotations`` or a history given by the verifier;
6. optionally, given a witness policy (:mod:`parley.log.policy`), that the checkpoint carries
   the cosignatures its quorum needs: that the witnesses saw the same tree, so the hub cannot
   show this receipt's history to one party and another history to the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley.errors import LogError, ParleyError
from parley.log import keychain, merkle, note
from parley.log.policy import Policy
from parley.log.receipt import RECEIPT_VERSION
from parley.parties import jws, keys


class ReceiptError(LogError):
    title = "Receipt does not verify"
    slug = "bad-receipt"


def _field(receipt: dict[str, Any], name: str, kind: type) -> Any:
    value = receipt.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ReceiptError(f"the receipt's {name!r} is missing or not a {kind.__name__}")
    return value


def _b64(text: object, what: str) -> bytes:
    """Standard padded base64 with one spelling per value: a lenient decoder reads a changed
    spare bit before the padding as the same bytes, so a flipped byte would go unseen."""
    if not isinstance(text, str):
        raise ReceiptError(f"the receipt's {what} is not base64 text")
    try:
        return note.b64decode_strict(text, f"the receipt's {what}")
    except note.NoteError as exc:
        raise ReceiptError(exc.detail) from None


# A party's key history, as the hub serves it (GET /api/v1/parties/{id}/keys, or
# `parley party key history --json`): each key with the time it came into force and went out.
KeyHistory = Sequence[dict[str, Any]]


def load_party_key(path: Path) -> Ed25519PublicKey | KeyHistory:
    """A public key file (.pub.json), or a key history file: a JSON list of keys in force."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        found = None
    if isinstance(found, list):
        for period in found:
            if not isinstance(period, dict) or not isinstance(period.get("valid_from"), str):
                raise ReceiptError(f"{path} is not a key history (a list of keys in force)")
        return found
    return keys.load_public_key(path)


def load_key_history(path: Path) -> list[str]:
    """The log's key rotations from a saved ``GET /log/key-rotations`` document."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReceiptError(f"cannot read the log key history {path}: {exc}") from None
    found = doc.get("rotations") if isinstance(doc, dict) else None
    if not isinstance(found, list) or not all(isinstance(n, str) for n in found):
        raise ReceiptError(
            f"{path} is not a log key history (the JSON of GET /log/key-rotations, with a "
            "'rotations' list of signed notes)"
        )
    return found


def key_in_force(history: KeyHistory, party: str, received_at: str) -> Ed25519PublicKey:
    """The key of ``party`` in force when the hub received the record (the time the log entry
    commits to), from its key history."""
    for period in history:
        until = period.get("valid_until")
        if (
            period.get("party") == party
            and period["valid_from"] <= received_at
            and (until is None or received_at < until)
        ):
            jwk = period.get("public_key")
            x = jwk.get("x") if isinstance(jwk, dict) else None
            try:
                return keys.public_key_from_raw(keys.b64url_decode(str(x)))
            except ParleyError:
                raise ReceiptError(f"the key history's key for {party!r} is not valid") from None
    raise ReceiptError(f"the key history has no key of party {party!r} in force at {received_at}")


def verify(
    receipt: dict[str, Any],
    log_key: str,
    party_key: Ed25519PublicKey | KeyHistory | None = None,
    policy: Policy | None = None,
    rotations: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Raise ReceiptError (PolicyError for a missing quorum) unless the receipt proves its
    claim; return what it proves.

    ``rotations``: the log's key history (``GET /log/key-rotations``) to follow from
    ``log_key``; by default the one the receipt carries."""
    if receipt.get("version") != RECEIPT_VERSION:
        raise ReceiptError(f"not a {RECEIPT_VERSION} receipt")
    verifier = note.Verifier.from_key(log_key)
    signed = _field(receipt, "checkpoint", str)
    if rotations is None:
        carried = receipt.get("key_rotations", [])
        if not isinstance(carried, list) or not all(isinstance(n, str) for n in carried):
            raise ReceiptError("the receipt's 'key_rotations' is not a list of signed notes")
        rotations = carried
    ring = keychain.follow(verifier, rotations)
    cosigned: list[dict[str, Any]] = []
    checkpoint, log_signer = ring.verify_detailed(signed)
    if policy is not None:
        checkpoint, verified = policy.check_detailed(signed, log_signer, verifier.name)
        cosigned = [
            {"witness": policy.witness_name(v), "key_name": v.name, "time": v.timestamp}
            for v in verified
        ]
    index = _field(receipt, "index", int)
    entry = _b64(_field(receipt, "entry", str), "entry")
    proof = [_b64(h, "inclusion proof") for h in _field(receipt, "inclusion_proof", list)]
    merkle.verify_inclusion(merkle.leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root)
    submission = _field(receipt, "submission", dict)
    compact = _field(submission, "jws", str)
    committed = _entry_commits_to(entry, compact, submission)
    parsed = jws.Parsed(compact, stored=True)
    if party_key is not None:
        signer = str(parsed.payload.get("party"))
        if not isinstance(party_key, Ed25519PublicKey):
            party_key = key_in_force(party_key, signer, str(committed.get("received_at")))
        try:
            parsed.verify(party_key, signer)
        except ParleyError as exc:
            raise ReceiptError(exc.detail) from None
    return {
        "index": index,
        "tree_size": checkpoint.size,
        "origin": checkpoint.origin,
        "received_at": committed["received_at"],
        "kind": parsed.payload.get("kind"),
        "party": parsed.payload.get("party"),
        "audience": parsed.payload.get("audience"),
        "party_signature_checked": party_key is not None,
        "policy_checked": policy is not None,
        "log_key": log_signer.key_string(),
        "key_rotations_followed": len(ring.rotations),
        "cosignatures": cosigned,
    }


def _entry_commits_to(entry: bytes, compact: str, submission: dict[str, Any]) -> dict[str, Any]:
    try:
        document = json.loads(entry)
    except ValueError:
        raise ReceiptError("the log entry is not JSON") from None
    if not isinstance(document, dict) or document.get("v") != 1:
        raise ReceiptError("the log entry is not a version 1 parley entry")
    data = compact.encode("ascii")
    if "jws_sha256" in document:
        if hashlib.sha256(data).hexdigest() != document["jws_sha256"]:
            raise ReceiptError("the log entry does not commit to these signed bytes")
        if document.get("id") != submission.get("id"):
            raise ReceiptError("the log entry names another submission")
    else:
        salt = submission.get("salt")
        if not isinstance(salt, str):
            raise ReceiptError("a restricted record's receipt needs its salt")
        try:
            salted = hashlib.sha256(bytes.fromhex(salt) + data).hexdigest()
        except ValueError:
            raise ReceiptError("the salt is not hex") from None
        if salted != document.get("commitment"):
            raise ReceiptError("the log entry does not commit to these signed bytes")
    return document
