"""C2SP tlog-checkpoint: the signed tree head, as the text of a signed note.

    <origin>\\n                non-empty; the log's identity
    <size>\\n                  ASCII decimal, no leading zeroes ("0" for the empty tree)
    <base64 root hash>\\n      RFC 4648 §4 base64 of the 32-byte RFC 9162 root
    [<extension line>\\n]...   optional, non-empty, opaque

A checkpoint only counts once its note signature by the log's key verifies *and* its origin
line is the one the client expects: a valid signature over another log's checkpoint is no
statement about this log.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from parley.errors import CheckpointError
from parley.log import note
from parley.log.merkle import HASH_SIZE

MAX_SIZE = 2**63 - 1
"""Sizes beyond int64 are refused, as in the Go implementations, so every client agrees."""

_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise CheckpointError(f"checkpoint {what} is empty")
    match = _CONTROL.search(line)
    if match:
        raise CheckpointError(
            f"checkpoint {what} contains control character U+{ord(match.group()):04X}"
        )


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"checkpoint size must be an integer, not {self.size!r}")
        if not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError(f"checkpoint size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root is {len(self.root)} bytes, not {HASH_SIZE}")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> str:
        """The note text: each line newline-terminated."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        return parse(body)


def parse(body: str) -> Checkpoint:
    """Read a checkpoint note text, refusing anything but the exact form above."""
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            f"checkpoint has {len(lines)} line(s); it needs origin, size and root hash"
        )
    origin, size_text, root_text, *extensions = lines
    _check_line(origin, "origin")
    if not _SIZE.fullmatch(size_text):
        raise CheckpointError(
            f"checkpoint size {size_text!r} is not a decimal number without leading zeroes"
        )
    size = int(size_text)
    if size > MAX_SIZE:
        raise CheckpointError(f"checkpoint size {size_text} is out of range")
    try:
        root = note.b64decode_strict(root_text, "checkpoint root hash")
    except note.NoteError as exc:
        raise CheckpointError(exc.detail) from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: note.NoteSigner, *more: note.NoteSigner) -> str:
    """The checkpoint as a signed note."""
    return note.sign_note(cp.body(), signer, *more)


def verify_checkpoint(
    note_text: str | bytes, verifier: note.NoteVerifier, origin: str
) -> Checkpoint:
    """Check the log's signature and the origin line; return the checkpoint.

    Other signatures (cosigners, a rotated key) are ignored, as signed-note requires.
    """
    text, _ = note.open_note(note_text, [verifier])
    cp = parse(text)
    if cp.origin != origin:
        raise CheckpointError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    return cp


def cosign_checkpoint(
    note_text: str,
    log_verifier: note.NoteVerifier,
    origin: str,
    cosigner: note.CosignatureSigner,
) -> str:
    """A mirror's or witness's step: verify the log's checkpoint, then append a
    tlog-cosignature ``cosignature/v1`` line to it.

    Checking consistency with what the cosigner saw before is the caller's job (see
    ``parley.log.verifier``): a cosignature asserts it.
    """
    verify_checkpoint(note_text, log_verifier, origin)
    return note.add_signatures(note_text, cosigner)


def verify_cosigned_checkpoint(
    note_text: str | bytes,
    log_verifier: note.NoteVerifier,
    origin: str,
    cosigners: Iterable[note.CosignatureVerifier],
    quorum: int = 1,
) -> tuple[Checkpoint, list[note.VerifiedSignature]]:
    """Verify the log's signature and origin, then require ``quorum`` distinct cosigners
    among ``cosigners``. Returns the checkpoint and the cosignatures that verified (with their
    timestamps)."""
    cp = verify_checkpoint(note_text, log_verifier, origin)
    cosigners = list(cosigners)
    if quorum < 1:
        raise ValueError("a cosignature quorum is at least 1")
    try:
        _, verified = note.open_note_detailed(note_text, cosigners)
    except note.NoteError as exc:
        raise CheckpointError(f"checkpoint cosignatures do not verify: {exc.detail}") from None
    if len(verified) < quorum:
        raise CheckpointError(
            f"checkpoint has {len(verified)} valid cosignature(s); {quorum} required"
        )
    return cp, verified
