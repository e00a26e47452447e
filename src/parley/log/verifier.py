"""Verify a whole tiled log (C2SP tlog-tiles) from its static resources, offline or online.

``verify_log`` fetches the signed checkpoint and checks it (signature and origin), then every
entry bundle, hashes each entry to its RFC 9162 leaf hash and compares it with the level-0
hash tile, rebuilds the tree once, compares its root with the checkpoint's, and checks the
higher-level hash tiles against the rebuilt tree so proofs clients compute from them hold.

Given the state of a previous run it still fetches and hashes every entry, and fails if the
log shrank or if any entry verified before now hashes differently, naming the first: a log may
only grow (tlog-checkpoint "Signatures"). The saved leaf hashes are what lets it tell a rewrite
of history from an honest log, even one re-signed to be consistent with itself.

Which error: ``CheckpointError`` for the checkpoint itself, ``TileError`` for a bundle or tile
that is missing, malformed or disagrees with the entries, ``ProofError`` when the log is not an
extension of the previously verified one, ``StateError`` for an unusable saved state or one
made for another log (another origin, or the same origin under another key).

Given a witness policy, the checkpoint must also carry the cosignatures its quorum needs
(``PolicyError``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parley.errors import CheckpointError, LogError, ProofError, TileError
from parley.log import keychain, note
from parley.log.checkpoint import Checkpoint, parse
from parley.log.merkle import HASH_SIZE, MerkleTree
from parley.log.policy import Policy
from parley.log.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Bundle,
    bundles_for_size,
    hash_tile,
    level_width,
    parse_entry_bundle,
    tile_path,
)

STATE_FORMAT = "parley-log-verifier/1"

Fetch = Callable[[str], bytes]
Progress = Callable[[int, int], None]


class StateError(LogError):
    title = "Verifier state unusable"
    slug = "bad-verifier-state"


@dataclass(frozen=True)
class VerifierState:
    """What a run verified: the signed checkpoint note and the leaf hashes of every entry,
    packed as 32-byte hashes in log order."""

    note: str
    checkpoint: Checkpoint
    leaves: bytes
    # For people reading the file: the binding to the key is the log's signature on the saved
    # checkpoint, which verify_log checks against the key it is given.
    log_key: str | None = None
    rotations: tuple[str, ...] = ()
    """The log key rotations followed so far (``parley.log.keychain``): a later history must
    extend it."""

    def __post_init__(self) -> None:
        if len(self.leaves) != self.checkpoint.size * HASH_SIZE:
            raise StateError(
                f"state holds {len(self.leaves) // HASH_SIZE} leaf hashes for "
                f"{self.checkpoint.size} entries"
            )

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root

    def leaf_hash(self, index: int) -> bytes:
        return self.leaves[index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def save(self, path: str | Path) -> None:
        """Write ``path`` (JSON) and ``path + ".leaves"`` (packed leaf hashes).

        Leaves go first, each file by atomic rename: after a crash between the two, the
        JSON still describes a prefix of the leaves file, which ``load`` accepts.
        """
        path = Path(path)
        doc = {
            "format": STATE_FORMAT,
            "origin": self.checkpoint.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "checkpoint": self.note,
        }
        if self.log_key:
            doc["log_key"] = self.log_key
        if self.rotations:
            doc["key_rotations"] = list(self.rotations)
        _write_atomically(_leaves_path(path), self.leaves)
        _write_atomically(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> VerifierState:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            leaves = _leaves_path(path).read_bytes()
        except OSError as exc:
            raise StateError(f"cannot read verifier state {exc.filename}: {exc.strerror}") from None
        except ValueError:
            raise StateError(f"{path} is not a verifier state file") from None
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise StateError(f"{path} is not a {STATE_FORMAT} file")
        signed = doc.get("checkpoint")
        if not isinstance(signed, str):
            raise StateError(f"{path} holds no checkpoint")
        try:
            checkpoint = parse(note.parse_note(signed)[0])
            root = base64.b64decode(str(doc.get("root")), validate=True)
        except (CheckpointError, binascii.Error) as exc:
            raise StateError(f"{path} holds a malformed checkpoint: {exc}") from None
        if (doc.get("origin"), doc.get("size"), root) != (
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root,
        ):
            raise StateError(f"{path}: origin, size or root disagree with its checkpoint")
        wanted = checkpoint.size * HASH_SIZE
        if len(leaves) < wanted:
            raise StateError(
                f"{_leaves_path(path)} holds {len(leaves) // HASH_SIZE} leaf hashes; "
                f"the state needs {checkpoint.size}"
            )
        log_key = doc.get("log_key")
        rotations = doc.get("key_rotations", [])
        if not isinstance(rotations, list) or not all(isinstance(r, str) for r in rotations):
            raise StateError(f"{path}: key_rotations is not a list of signed notes")
        # A longer file is a save interrupted before the JSON was replaced; the prefix is ours.
        return cls(
            signed,
            checkpoint,
            leaves[:wanted],
            log_key if isinstance(log_key, str) else None,
            tuple(rotations),
        )


def _leaves_path(path: Path) -> Path:
    return Path(str(path) + ".leaves")


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fetch(fetch: Fetch, path: str, error: type[LogError] = TileError) -> bytes:
    try:
        data = fetch(path)
    except LogError:
        raise
    except Exception as exc:  # whatever the transport raises, the user needs the path
        raise error(f"cannot fetch {path}: {exc or type(exc).__name__}") from exc
    return bytes(data)


def _first_difference(a: bytes, b: bytes) -> int:
    """Index of the first 32-byte hash where ``a`` and ``b`` differ (they do differ)."""
    for i in range(0, min(len(a), len(b)), HASH_SIZE):
        if a[i : i + HASH_SIZE] != b[i : i + HASH_SIZE]:
            return i // HASH_SIZE
    return min(len(a), len(b)) // HASH_SIZE


def _hex(h: bytes) -> str:
    return h.hex()[:16] + "…"


def _verify_bundle(fetch: Fetch, bundle: Bundle, known: bytes, old: int) -> bytes:
    """Fetch one entry bundle and its level-0 tile; return the bundle's packed leaf hashes.

    ``known``: the leaf hashes verified before for this bundle's first entries (those below
    the saved size ``old``); each must hash the same now.
    """
    tile_name = tile_path(0, bundle.index, bundle.width)
    tile = _fetch(fetch, tile_name)
    if len(tile) != bundle.width * HASH_SIZE:
        raise TileError(
            f"{tile_name} is {len(tile)} bytes; {bundle.width} hashes are "
            f"{bundle.width * HASH_SIZE}"
        )
    try:
        entries = parse_entry_bundle(_fetch(fetch, bundle.path), bundle.width)
    except TileError as exc:
        raise TileError(f"{bundle.path}: {exc.detail}") from None
    sha256 = hashlib.sha256
    leaves = b"".join([sha256(b"\x00" + e).digest() for e in entries])
    if leaves[: len(known)] != known:
        raise _rewritten(bundle.start + _first_difference(leaves, known), old)
    if leaves != tile:
        i = _first_difference(leaves, tile)
        at = i * HASH_SIZE
        raise TileError(
            f"entry {bundle.start + i} does not match the tree: it hashes to "
            f"{_hex(leaves[at : at + HASH_SIZE])} but {tile_name} holds "
            f"{_hex(tile[at : at + HASH_SIZE])}"
        )
    return leaves


def _rewritten(index: int, old: int) -> ProofError:
    return ProofError(
        f"entry {index} changed since the last verified checkpoint (size {old}): "
        "the log rewrote its history"
    )


def _verify_upper_tiles(fetch: Fetch, tree: MerkleTree, old: int) -> None:
    """Level 1 and up: the tiles that changed since size ``old`` (all when ``old`` is 0)."""
    level = 1
    while (n := level_width(tree.size, level)) > 0:
        first = level_width(old, level) // TILE_WIDTH
        for index in range(first, -(-n // TILE_WIDTH)):
            width = min(TILE_WIDTH, n - index * TILE_WIDTH)
            name = tile_path(level, index, width)
            served = _fetch(fetch, name)
            want = hash_tile(tree, level, index, width)
            if served != want:
                i = _first_difference(served, want)
                raise TileError(
                    f"{name} does not match the tree at hash {i} (tree level "
                    f"{TILE_HEIGHT * level}, {len(served)} bytes served)"
                )
        level += 1


def verify_log(
    fetch: Fetch,
    verifier: note.NoteVerifier,
    origin: str,
    state: VerifierState | None = None,
    progress: Progress | None = None,
    policy: Policy | None = None,
) -> VerifierState:
    """Verify the log served by ``fetch`` (paths relative to the log's prefix, e.g.
    ``checkpoint``, ``tile/0/x001/234``, ``tile/entries/005.p/17``); return the new state.

    ``progress(done, total)`` is called in entries after each bundle. With ``policy``, the
    checkpoint must meet its quorum of witness cosignatures.
    """
    raw = _fetch(fetch, "checkpoint", CheckpointError)
    try:
        signed = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("the checkpoint is not UTF-8 text") from None
    ring = key_ring(fetch, verifier, origin, state)
    if state is not None:
        _check_state_is_for(state, ring, verifier, origin)
    checkpoint, signer = ring.verify_detailed(signed)
    if policy is not None:
        checkpoint, _ = policy.check_detailed(signed, signer, origin)
    size = checkpoint.size

    old = 0
    if state is not None:
        old = state.size
        if size < old:
            raise ProofError(f"the log shrank from {old} to {size} entries")
        # Before blaming the log for an entry that differs from the saved hash, make sure
        # the saved hashes are the ones that were verified.
        if MerkleTree.from_packed(state.leaves).root() != state.root:
            raise StateError(
                "the saved leaf hashes do not hash to the saved root; state is damaged"
            )

    # Every run fetches and hashes every entry, old ones included: a hub that now serves
    # altered entries under an unchanged checkpoint is caught even when nothing was added.
    parts = []
    for bundle in bundles_for_size(size):
        known = b""
        if state is not None and bundle.start < old:
            stop = min(old, bundle.start + bundle.width)
            known = state.leaves[bundle.start * HASH_SIZE : stop * HASH_SIZE]
        parts.append(_verify_bundle(fetch, bundle, known, old))
        if progress:
            progress(bundle.start + bundle.width, size)
    packed = b"".join(parts)
    del parts

    tree = MerkleTree.from_packed(packed)
    root = tree.root()
    if root != checkpoint.root:
        if state is not None and size == old:
            raise ProofError(f"the log signed a different root for the same size {old}")
        raise CheckpointError(
            f"the {size} entries hash to root {_hex(root)}, "
            f"but the checkpoint says {_hex(checkpoint.root)}"
        )
    _verify_upper_tiles(fetch, tree, 0)
    for number, step in enumerate(ring.rotations, 1):
        # Each rotation signed a tree of this log: one this log does not hold is a fork.
        at = step.checkpoint
        if at.size <= size and tree.root(at.size) != at.root:
            raise ProofError(
                f"key rotation {number} signed a tree of size {at.size} that is not this log's"
            )
    if progress and size == 0:
        progress(0, 0)
    key = verifier.key_string() if isinstance(verifier, note.Verifier) else None
    return VerifierState(signed, checkpoint, packed, key, tuple(ring.notes))


def key_ring(
    fetch: Fetch, verifier: note.NoteVerifier, origin: str, state: VerifierState | None = None
) -> keychain.KeyRing:
    """The keys that may sign this log's checkpoints, followed from the pinned ``verifier``
    through the log's key history. A log that serves none never rotated (or is an older
    hub), unless the saved state followed rotations before: a history may only grow."""
    if not isinstance(verifier, note.Verifier):
        raise StateError("a log key is a plain Ed25519 verifier key")
    try:
        raw = fetch(keychain.HISTORY)
    except Exception:  # a hub or mirror without the resource: no rotations to follow
        raw = None
    rotations = keychain.parse_history(bytes(raw)) if raw else []
    if state is not None and list(state.rotations) != rotations[: len(state.rotations)]:
        raise ProofError(
            f"the log's key history no longer starts with the {len(state.rotations)} "
            "rotation(s) verified before: it was rewritten"
        )
    return keychain.follow(verifier, rotations, origin)


def _check_state_is_for(
    state: VerifierState, ring: keychain.KeyRing, verifier: note.NoteVerifier, origin: str
) -> None:
    """A state made for another log says nothing about this one: comparing them would report
    a "rewrite" that is only two logs being different."""
    if state.checkpoint.origin != origin:
        raise StateError(f"saved state is for origin {state.checkpoint.origin!r}, not {origin!r}")
    try:
        ring.verify(state.note)
    except CheckpointError:
        given = verifier.key_string() if isinstance(verifier, note.Verifier) else verifier.name
        raise StateError(
            f"saved state is for origin {origin!r} under another log key "
            f"({state.log_key or 'its checkpoint is not signed by the key given'}), not {given}: "
            "it was made for another log with the same origin; use a state file per log"
        ) from None
