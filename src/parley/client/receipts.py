"""Checking a receipt offline: what was notified, by whom, at which position and time.

A receipt holds the submission's signed bytes, the log entry, an inclusion proof and a checkpoint
signed by the hub. With only the hub's verifier key, anyone can check that:

1. the checkpoint is signed by that key and names the expected origin;
2. the entry sits at ``index`` in the tree the checkpoint commits to (RFC 9162 inclusion proof);
3. the entry commits to exactly these signed bytes (a SHA-256, or a salted one for a record
   that was not shared with every party);
4. optionally, given the party's public key, that the party signed them;
5. optionally, given a witness policy (:mod:`parley.log.policy`), that the checkpoint carries
   the cosignatures its quorum needs: that the witnesses saw the same tree, so the hub cannot
   show this receipt's history to one party and another history to the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley.errors import LogError, ParleyError
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.policy import Policy
from parley.log.receipt import RECEIPT_VERSION
from parley.parties import jws


class ReceiptError(LogError):
    title = "Receipt does not verify"
    slug = "bad-receipt"


def _field(receipt: dict[str, Any], name: str, kind: type) -> Any:
    value = receipt.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ReceiptError(f"the receipt's {name!r} is missing or not a {kind.__name__}")
    return value


def _b64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise ReceiptError(f"the receipt's {what} is not base64") from None


def verify(
    receipt: dict[str, Any],
    log_key: str,
    party_key: Ed25519PublicKey | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Raise ReceiptError (PolicyError for a missing quorum) unless the receipt proves its
    claim; return what it proves."""
    if receipt.get("version") != RECEIPT_VERSION:
        raise ReceiptError(f"not a {RECEIPT_VERSION} receipt")
    verifier = note.Verifier.from_key(log_key)
    signed = _field(receipt, "checkpoint", str)
    cosigned: list[dict[str, Any]] = []
    if policy is None:
        checkpoint = cp.verify_checkpoint(signed, verifier, verifier.name)
    else:
        checkpoint, verified = policy.check_detailed(signed, verifier, verifier.name)
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
        try:
            parsed.verify(party_key, str(parsed.payload.get("party")))
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
