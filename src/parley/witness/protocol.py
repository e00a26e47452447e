"""tlog-witness ``add-checkpoint`` (c2sp.org/tlog-witness): the request's form, the checks in
the spec's order, and the cosignature.

Request body::

    old <size>\\n
    <base64 consistency proof hash>\\n      zero to 63 lines
    \\n
    <signed checkpoint note>

Answers, as the spec requires: 400 for a malformed request or an old size above the
checkpoint's; 404 for an origin the witness does not know; 403 unless a trusted log key signed
it (and every signature by a trusted name and key ID verifies); 409 with the size it last
cosigned when ``old`` is not that size; 422 when the checkpoint cannot be proven consistent
with what it last cosigned. Only then does it cosign, after the new state is on disk.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from parley.errors import (
    BadRequest,
    CheckpointError,
    Conflict,
    Forbidden,
    NotFound,
    ProofError,
    Unprocessable,
)
from parley.log import checkpoint, keychain, merkle, note
from parley.log.checkpoint import Checkpoint
from parley.log.note import SignatureLine
from parley.witness.state import Cosigned, WitnessStore

log = logging.getLogger("parley.witness")

MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]*)")


class MalformedRequest(BadRequest):
    title = "Malformed add-checkpoint request"
    slug = "witness-malformed-request"


class UnknownOrigin(NotFound):
    title = "Unknown log origin"
    slug = "witness-unknown-origin"


class NoTrustedSignature(Forbidden):
    title = "No valid signature by a trusted log key"
    slug = "witness-no-trusted-signature"


class OldSizeConflict(Conflict):
    """The client's old size is not the size the witness last cosigned; ``size`` is."""

    title = "Old size does not match the latest cosigned checkpoint"
    slug = "witness-old-size-conflict"

    def __init__(self, detail: str, size: int) -> None:
        super().__init__(detail, size=size)
        self.size = size


class InconsistentCheckpoint(Unprocessable):
    title = "Checkpoint is not consistent with the latest cosigned checkpoint"
    slug = "witness-inconsistent-checkpoint"


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed request; nothing in it verified yet."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str
    text: str
    signatures: tuple[SignatureLine, ...]
    checkpoint: Checkpoint


def parse_request(body: bytes) -> AddCheckpoint:
    """The request's form (400 on anything else)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the request body is not UTF-8") from None
    # The old size and proof lines are never empty, so the first blank line ends them.
    head, blank, signed = text.partition("\n\n")
    if not blank:
        raise MalformedRequest("the request has no blank line before the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise MalformedRequest(
            "the first line must be 'old <size>' in decimal without leading zeroes"
        )
    old_size = int(match.group(1))
    if old_size > checkpoint.MAX_SIZE:
        raise MalformedRequest(f"old size {old_size} is out of range")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequest(
            f"{len(proof_lines)} consistency proof lines; at most {MAX_PROOF_LINES} are allowed"
        )
    proof = []
    for number, line in enumerate(proof_lines, 1):
        try:
            digest = note.b64decode_strict(line, f"consistency proof line {number}")
        except note.NoteError as exc:
            raise MalformedRequest(exc.detail) from None
        if len(digest) != merkle.HASH_SIZE:
            raise MalformedRequest(
                f"consistency proof line {number} holds {len(digest)} bytes, not {merkle.HASH_SIZE}"
            )
        proof.append(digest)
    try:
        cp_text, signatures = note.parse_note(signed)
        cp = checkpoint.parse(cp_text)
    except CheckpointError as exc:
        raise MalformedRequest(f"checkpoint: {exc.detail}") from None
    return AddCheckpoint(old_size, tuple(proof), signed, cp_text, tuple(signatures), cp)


@dataclass(frozen=True)
class Cosignature:
    lines: str
    """The response body: the witness's note signature line(s)."""
    checkpoint: Checkpoint
    first_use: bool


class Witness:
    """Checks and cosigns checkpoints for the logs in ``store``, with ``signer``'s key.

    Log keys are read from the store on each request, so ``parley witness add-log`` takes
    effect without a restart.
    """

    def __init__(self, signer: note.CosignatureSigner, store: WitnessStore) -> None:
        self.signer = signer
        self.store = store

    def _verifiers(self, origin: str) -> list[note.NoteVerifier]:
        keys = self.store.log_keys(origin)
        if not keys:
            raise UnknownOrigin(f"this witness does not cosign checkpoints of {origin!r}")
        return [note.parse_verifier_key(k) for k in keys]

    def add_checkpoint(self, body: bytes) -> Cosignature:
        req = parse_request(body)
        cp = req.checkpoint
        verifiers = self._verifiers(cp.origin)
        try:
            _, verified = note.open_note_detailed(req.note, verifiers)
        except note.NoteError as exc:
            raise NoTrustedSignature(exc.detail) from None
        rotation = self._rotation(req)
        if req.old_size > cp.size:
            raise MalformedRequest(
                f"old size {req.old_size} is larger than the checkpoint's size {cp.size}"
            )
        latest = self.store.latest(cp.origin)
        self._check_fork(req, latest)
        cosigned_size = latest.tree_size if latest else 0
        if req.old_size != cosigned_size:
            raise OldSizeConflict(
                f"old size {req.old_size} is not {cosigned_size}, the size of the latest "
                f"checkpoint this witness cosigned for {cp.origin!r}",
                cosigned_size,
            )
        self._check_consistency(req, latest)

        # The stored note keeps only what was verified: the trusted log signatures and ours.
        trusted = {(v.name, v.key_id) for v in verified}
        ours = note.SignatureLine(
            self.signer.name, self.signer.key_id, self.signer.sign(req.text.encode("utf-8"))
        ).line()
        kept = "".join(s.line() for s in req.signatures if (s.name, s.key_id) in trusted)
        stored = f"{req.text}\n{kept}{ours}"
        if not self.store.advance(cp.origin, latest, cp.size, cp.root, stored):
            # Another request moved the state since we read it: ours is not cosigned.
            now = self.store.latest(cp.origin)
            size = now.tree_size if now else 0
            raise OldSizeConflict(
                f"the latest cosigned checkpoint of {cp.origin!r} moved to size {size} "
                "while this request was checked",
                size,
            )
        if rotation is not None and self.store.add_log(cp.origin, rotation.new.key_string()):
            log.warning(
                "witness: log %r rotated its key at size %d; now trusting %s",
                cp.origin,
                cp.size,
                rotation.new.key_string(),
            )
        if latest is None:
            log.warning(
                "witness: first checkpoint of %r (size %d) trusted on first use; "
                "nothing earlier was checked",
                cp.origin,
                cp.size,
            )
        return Cosignature(ours, cp, latest is None)

    def _rotation(self, req: AddCheckpoint) -> keychain.Rotation | None:
        """A checkpoint announcing a new log key: only one both keys signed, from a key this
        witness trusts, teaches it the new key (``parley.log.keychain``)."""
        try:
            named = keychain.rotation_of(req.checkpoint)
            if named is None:
                return None
            rotation = keychain.check_rotation(req.note, req.checkpoint.origin)
        except CheckpointError as exc:
            raise NoTrustedSignature(f"refusing the key rotation: {exc.detail}") from None
        if rotation.old.key_string() not in self.store.log_keys(req.checkpoint.origin):
            raise NoTrustedSignature(
                f"refusing the key rotation: it hands over from {rotation.old.key_string()}, "
                "which this witness does not trust for this log"
            )
        return rotation

    def _check_fork(self, req: AddCheckpoint, latest: Cosigned | None) -> None:
        """Two validly signed checkpoints of one size with different roots prove the log
        forked, whatever ``old`` says: keep both, then refuse."""
        cp = req.checkpoint
        if latest is None or cp.size != latest.tree_size or cp.root == latest.root:
            return
        detail = (
            f"the log signed two different trees of size {cp.size} for {cp.origin!r}: "
            f"root {cp.root.hex()} here, {latest.root.hex()} cosigned before"
        )
        self._seen(cp.origin, "fork", detail, req.note, latest.note)
        if req.old_size != latest.tree_size:
            raise OldSizeConflict(detail, latest.tree_size)
        raise InconsistentCheckpoint(detail)

    def _check_consistency(self, req: AddCheckpoint, latest: Cosigned | None) -> None:
        cp = req.checkpoint
        if cp.size == 0 and cp.root != merkle.EMPTY_ROOT:
            raise InconsistentCheckpoint("a checkpoint of size 0 must have the empty tree's root")
        if req.old_size == 0:
            if req.proof:
                raise InconsistentCheckpoint("from old size 0 the consistency proof must be empty")
            return
        assert latest is not None  # old_size == latest.tree_size > 0
        try:
            merkle.verify_consistency(
                latest.tree_size, cp.size, latest.root, cp.root, list(req.proof)
            )
        except ProofError as exc:
            detail = (
                f"no consistency from the cosigned size {latest.tree_size} to {cp.size}: "
                f"{exc.detail}"
            )
            self._seen(cp.origin, "inconsistent", detail, req.note, latest.note)
            raise InconsistentCheckpoint(detail) from None

    def _seen(self, origin: str, kind: str, detail: str, signed: str, cosigned: str) -> None:
        log.warning("witness: %s seen for %r: %s", kind, origin, detail)
        self.store.record_sighting(origin, kind, detail, signed, cosigned)


def request_body(old_size: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    """The ``add-checkpoint`` body a client sends."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint_note).encode("utf-8")
