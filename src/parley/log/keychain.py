"""Log key rotation: the chain of checkpoints that hands a log from one key to the next.

A rotation step is a checkpoint of the log at the moment of rotation (origin, size, root) with
one extension line

    parley-key-rotation/v1 <old verifier key> <new verifier key>

signed by *both* keys. The old key's signature is the log's word that the new key succeeds it
from this tree on; the new key's shows its holder took it over. A signature by the new key
alone, by an unrelated key, or a chain whose steps do not follow one another is no rotation.

The old key stays good for checkpoints up to the rotation's size (older receipts keep
verifying), the new one from that size on: a checkpoint past the rotation signed only by a
rotated-away key is refused, so a leaked old key cannot speak for the log's future.

A verifier pins one key (any in the chain) and follows the steps from it with :func:`follow`;
the resulting :class:`KeyRing` checks checkpoints in place of a single key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from parley.errors import CheckpointError
from parley.log import note
from parley.log.checkpoint import Checkpoint, parse

TAG = "parley-key-rotation/v1"


class KeyRotationError(CheckpointError):
    title = "Log key rotation does not verify"
    slug = "bad-key-rotation"


@dataclass(frozen=True)
class Rotation:
    signed: str
    checkpoint: Checkpoint
    old: note.Verifier
    new: note.Verifier


def rotation_note(tree: Checkpoint, old: note.Signer, new: note.Signer) -> str:
    """The rotation step for the log at ``tree``: signed by ``old`` then ``new``."""
    line = f"{TAG} {old.key_string()} {new.key_string()}"
    body = Checkpoint(tree.origin, tree.size, tree.root, (*tree.extensions, line))
    return note.sign_note(body.body(), old, new)


def rotation_of(checkpoint: Checkpoint) -> tuple[str, str] | None:
    """The (old, new) verifier keys a checkpoint's rotation line names, or None."""
    found = [e for e in checkpoint.extensions if e.startswith(TAG + " ")]
    if not found:
        return None
    if len(found) > 1:
        raise KeyRotationError("a checkpoint names more than one key rotation")
    parts = found[0].split(" ")
    if len(parts) != 3:
        raise KeyRotationError(f"the rotation line is not '{TAG} <old key> <new key>'")
    return parts[1], parts[2]


def check_rotation(signed: str, origin: str, number: int = 1) -> Rotation:
    """Verify one rotation step: its form, its origin, and both keys' signatures."""
    where = f"key rotation {number}"
    try:
        checkpoint = parse(note.parse_note(signed)[0])
        keys = rotation_of(checkpoint)
        if keys is None:
            raise KeyRotationError("it names no rotation")
        old, new = (note.Verifier.from_key(k) for k in keys)
    except CheckpointError as exc:
        raise KeyRotationError(f"{where} is malformed: {exc.detail}") from None
    if checkpoint.origin != origin or old.name != origin or new.name != origin:
        raise KeyRotationError(f"{where} is for origin {checkpoint.origin!r}, not {origin!r}")
    if old == new:
        raise KeyRotationError(f"{where} rotates key {old.key_string()} to itself")
    for key, role in ((old, "old"), (new, "new")):
        try:
            note.open_note(signed, [key])
        except CheckpointError:
            raise KeyRotationError(
                f"{where} is not signed by its {role} key {key.key_string()}: a rotation "
                "needs the signatures of both the old and the new key"
            ) from None
    return Rotation(signed, checkpoint, old, new)


@dataclass(frozen=True)
class Period:
    key: note.Verifier
    first: int
    last: int | None
    """The last checkpoint size this key may sign (the next rotation's); None: in force."""


class KeyRing:
    """The keys of one log, each good for the checkpoint sizes it was in force."""

    def __init__(self, origin: str, periods: Sequence[Period], rotations: Sequence[Rotation]):
        self.origin = origin
        self.periods = list(periods)
        self.rotations = list(rotations)

    @classmethod
    def single(cls, key: note.Verifier, origin: str | None = None) -> KeyRing:
        return cls(origin or key.name, [Period(key, 0, None)], [])

    @property
    def current(self) -> note.Verifier:
        return self.periods[-1].key

    @property
    def notes(self) -> list[str]:
        return [r.signed for r in self.rotations]

    def verify_detailed(self, signed: str | bytes) -> tuple[Checkpoint, note.Verifier]:
        """Check a checkpoint: signed by a key of the ring in force at its size, for this
        origin. Returns it with the key that vouches for it."""
        text, verified = note.open_note_detailed(signed, [p.key for p in self.periods])
        checkpoint = parse(text)
        if checkpoint.origin != self.origin:
            raise CheckpointError(
                f"checkpoint is for origin {checkpoint.origin!r}, expected {self.origin!r}"
            )
        by = {(v.name, v.key_id) for v in verified}
        signers = [p for p in self.periods if (p.key.name, p.key.key_id) in by]
        for period in signers:
            if period.first <= checkpoint.size and (
                period.last is None or checkpoint.size <= period.last
            ):
                return checkpoint, period.key
        period = signers[-1]
        raise KeyRotationError(
            f"checkpoint of size {checkpoint.size} is signed only by log key "
            f"{period.key.key_string()}, which was rotated away at size {period.last}: "
            "a rotated-away key may not sign the log's later trees"
        )

    def verify(self, signed: str | bytes) -> Checkpoint:
        return self.verify_detailed(signed)[0]


def follow(pinned: note.Verifier, rotations: Sequence[str], origin: str | None = None) -> KeyRing:
    """The ring a verifier that pinned ``pinned`` gets from the log's rotation chain.

    Every step must verify on its own and hand over from the key the previous step handed
    to; the pinned key must be one of the chain's keys."""
    origin = origin or pinned.name
    steps = [check_rotation(signed, origin, i) for i, signed in enumerate(rotations, 1)]
    if not steps:
        return KeyRing.single(pinned, origin)
    for i in range(1, len(steps)):
        before, step = steps[i - 1], steps[i]
        if step.old != before.new:
            raise KeyRotationError(
                f"the key history skips a step: rotation {i + 1} is from "
                f"{step.old.key_string()}, but rotation {i} handed the log to "
                f"{before.new.key_string()}"
            )
        if step.checkpoint.size < before.checkpoint.size:
            raise KeyRotationError(
                f"rotation {i + 1} is at size {step.checkpoint.size}, before rotation {i} "
                f"(size {before.checkpoint.size})"
            )
    keys = [steps[0].old, *(s.new for s in steps)]
    if pinned not in keys:
        raise KeyRotationError(
            f"the log's key history does not include the pinned key {pinned.key_string()} "
            f"(it runs from {keys[0].key_string()} to {keys[-1].key_string()})"
        )
    sizes = [0, *(s.checkpoint.size for s in steps)]
    periods = [
        Period(key, sizes[i], sizes[i + 1] if i + 1 < len(sizes) else None)
        for i, key in enumerate(keys)
    ]
    return KeyRing(origin, periods, steps)


def follow_on(ring: KeyRing, pinned: note.Verifier, rotations: Sequence[str]) -> KeyRing:
    """:func:`follow` again, for a verifier that followed ``ring`` before: the history may
    only grow."""
    if list(rotations[: len(ring.rotations)]) != ring.notes:
        raise KeyRotationError(
            f"the log's key history no longer starts with the {len(ring.rotations)} "
            "rotation(s) followed before: it was rewritten"
        )
    return follow(pinned, rotations, ring.origin)


HISTORY = "key-rotations"
"""The log's key history, beside its checkpoint (``GET /log/key-rotations``)."""


def parse_history(raw: bytes) -> list[str]:
    """The rotation notes of a key history document."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise KeyRotationError(f"{HISTORY} is not JSON") from None
    found = doc.get("rotations") if isinstance(doc, dict) else None
    if not isinstance(found, list) or not all(isinstance(n, str) for n in found):
        raise KeyRotationError(f"{HISTORY} holds no list of rotations")
    return found


def verify_following(
    ring: KeyRing, signed: str, fetch: Callable[[str], bytes]
) -> tuple[KeyRing, Checkpoint]:
    """Verify ``signed`` with ``ring``; if no key of it signs, fetch the log's key history
    and follow it on from the ring's first key (the pinned one, for a ring :func:`follow`
    made). Returns the ring to keep and the checkpoint."""
    try:
        return ring, ring.verify(signed)
    except CheckpointError as refused:
        try:
            raw = fetch(HISTORY)
        except Exception:  # no history to follow: the refusal stands
            raise refused from None
        ring = follow_on(ring, ring.periods[0].key, parse_history(raw))
        return ring, ring.verify(signed)
