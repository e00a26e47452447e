"""The hub's side of the log: the tree in memory, signed checkpoints, tiles and receipts.

The database is the source of truth (entries are sequenced there, under the ``log_state`` lock);
each process keeps the Merkle tree in memory and catches up from the database, so several
processes on one PostgreSQL serve the same tree. A background thread publishes a signed
checkpoint whenever the tree has grown, at most ``checkpoint_interval_s`` after an entry lands.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.errors import LogError, NotFound, ParleyError
from parley.hub.cosigning import Cosigners
from parley.hub.logcheck import (
    StoredLogError,
    check_checkpoint,
    check_stored_log,
    durability_warnings,
)
from parley.log import checkpoint as cp
from parley.log import keychain, merkle, note, tiles
from parley.log.receipt import RECEIPT_VERSION
from parley.parties import keys
from parley.store.db import Store, Submission
from parley.store.log_keys import StaleLogKey

log = logging.getLogger("parley.log")

_str = json.encoder.encode_basestring  # a JSON string, escaped as RFC 8785 escapes it
CATCH_UP_CHUNK = 10_000
# Receipts are asked for just after submitting: the newest entries stay in memory (131-200
# bytes each, under 4 MB in all), so a receipt does not read its entry back from the database
# (a quarter of the server's time at 1,000 submissions/s with receipts, by py-spy, session 12).
RECENT_ENTRIES = 16_384
KEY_DIR = "log-keys"
"""Where ``parley log rotate-key`` keeps the log keys after the first (``hub.key``), in the
data directory: one file per key, named by its key ID, never deleted."""


def key_file(key_dir: Path, verifier: note.Verifier) -> Path:
    return key_dir / f"{verifier.key_id.hex()}.key"


class HubLog:
    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        origin: str,
        interval_s: float,
        checkpoint_file: Path | None = None,
        cosigners: Cosigners | None = None,
        key_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.cosigners = cosigners or Cosigners([], 0)
        self.origin = origin
        self._first = note.Signer(origin, key)
        self.signer = self._first
        self.ring = keychain.KeyRing.single(self._first.verifier())
        if key_dir is None and checkpoint_file is not None:
            key_dir = checkpoint_file.parent / KEY_DIR
        self.key_dir = key_dir
        self._lock = threading.Lock()
        # The entries last appended to the tree, in order, ending at index tree.size - 1.
        self._recent: collections.deque[bytes] = collections.deque(maxlen=RECENT_ENTRIES)
        self.adopt_keys()
        # Before anything is served or signed: a tree that contradicts a stored record or
        # the latest signed checkpoint would make every later checkpoint a fork.
        self.tree, self._published = check_stored_log(store, self.ring, origin, checkpoint_file)
        # A copy of the newest checkpoint outside the database: a database that lost its
        # newest entries together with the checkpoints covering them (a restored backup, an
        # operator's DELETE) contradicts it.
        self.checkpoint_file = checkpoint_file
        self._kept = 0  # the first publication round writes it
        self.warnings = durability_warnings(store)
        for warning in self.warnings:
            log.warning("%s", warning)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interval = interval_s
        self.listeners: list[Callable[[int], None]] = []
        self.catch_up()
        self._thread = threading.Thread(target=self._run, name="parley-checkpoints", daemon=True)
        self._thread.start()

    @property
    def verifier_key(self) -> str:
        """The key in force, which signs new checkpoints."""
        return self.signer.key_string()

    def adopt_keys(self) -> bool:
        """Switch to the key the database says is in force (after ``parley log rotate-key``,
        here or in another process); True if it changed."""
        rotations = self.store.log_key_rotations()
        if len(rotations) == len(self.ring.rotations):
            return False
        try:
            ring = keychain.follow(self._first.verifier(), rotations)
        except LogError as exc:
            raise StoredLogError(
                f"the stored log key history does not verify: {exc.detail}"
            ) from None
        signer = self._signer_for(ring.current)
        with self._lock:
            self.ring, self.signer = ring, signer
        log.warning("log key rotated: checkpoints are now signed by %s", signer.key_string())
        return True

    def _signer_for(self, verifier: note.Verifier) -> note.Signer:
        if verifier == self._first.verifier():
            return self._first
        if self.key_dir is None:
            raise StoredLogError(f"the log key in force, {verifier.key_string()}, is not here")
        path = key_file(self.key_dir, verifier)
        try:
            signer = note.Signer(self.origin, keys.load_private_key(path))
        except (OSError, ParleyError, ValueError) as exc:
            raise StoredLogError(
                f"the log key in force, {verifier.key_string()}, has no usable private key at "
                f"{path} ({exc}): copy it from the data directory where `parley log "
                "rotate-key` ran"
            ) from None
        if signer.verifier() != verifier:
            raise StoredLogError(f"{path} does not hold the log key {verifier.key_string()}")
        return signer

    def key_rotations(self) -> list[str]:
        """The rotation checkpoints, oldest first, as the database holds them now."""
        return self.store.log_key_rotations()

    def _history_for(self, signed: str) -> list[str]:
        """The rotations a receipt carries, up to the key that signed ``signed``: this
        process's ring when its key in force signed it, with no query (a query per receipt was
        40 % of a receipt's cost); the database's when another process rotated and signed
        first."""
        ring = self.ring
        if _signed_by(signed, ring.current):
            return ring.notes
        return self.key_rotations()

    def _announce_rotation(self) -> None:
        """Hand the newest rotation checkpoint to the witnesses (so they learn the new key
        from a checkpoint both keys signed) and publish it when it is the newest tree."""
        rotation = self.ring.rotations[-1]
        size = rotation.checkpoint.size
        signed = self.cosigners.cosign(size, rotation.signed, self.consistency, again=True)
        latest = self.store.latest_checkpoint()
        if size > 0 and (latest is None or latest[0] < size):
            self.store.save_checkpoint_signed(size, signed, self.verifier_key)
            self._keep(size, signed)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.cosigners.close()

    # -- growing the tree ---------------------------------------------------------------------

    def catch_up(self) -> int:
        """Append to the in-memory tree every entry the database has and the tree lacks."""
        with self._lock:
            target = self.store.log_size()
            while self.tree.size < target:
                stop = min(target, self.tree.size + CATCH_UP_CHUNK)
                for entry in self.store.entries(self.tree.size, stop):
                    self.tree.append(merkle.leaf_hash(entry))
                    self._recent.append(entry)
            return self.tree.size

    def _entry(self, index: int) -> bytes:
        """The entry at ``index`` as the tree holds it: from memory if recent."""
        with self._lock:
            back = self.tree.size - index
            if 0 < back <= len(self._recent):
                return self._recent[-back]
        (entry,) = self.store.entries(index, index + 1)
        return entry

    def notify(self) -> None:
        """New entries were committed: publish a checkpoint soon."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=max(self._interval, 0.01) * 5)
            self._wake.clear()
            if self._stop.is_set():
                return
            # Entries arriving within one interval share a checkpoint.
            self._stop.wait(self._interval)
            try:
                self.publish()
            except StoredLogError as exc:
                log.critical("%s; no checkpoint will be signed", exc.detail)
            except Exception:  # the next round retries; a failure must not stop publishing
                log.exception("checkpoint publication failed")

    def publish(self) -> tuple[int, str] | None:
        size = self.catch_up()
        if self.adopt_keys():
            self._announce_rotation()
        latest = self.store.latest_checkpoint()
        if latest is not None and latest[0] >= size:
            self._published = latest
            self._keep(*latest)
            return latest
        if size == 0:
            return None
        with self._lock:
            if latest is not None:
                # Entries other processes appended are read back from the database; never
                # extend a tree that no longer holds what was signed.
                check_checkpoint(self.tree, latest, self.ring, self.origin)
            body = cp.Checkpoint(self.origin, size, self.tree.root(size))
            signed = cp.sign_checkpoint(body, self.signer)
        # Witnesses cosign before anyone is handed the checkpoint, so receipts carry them.
        signed = self.cosigners.cosign(size, signed, self.consistency)
        # The copy first: it may run ahead of the database (the entries are committed
        # already), never behind a checkpoint anyone was handed.
        self._keep(size, signed)
        try:
            self.store.save_checkpoint_signed(size, signed, self.verifier_key)
        except StaleLogKey:
            # Rotated while this round signed: the copy must not keep a checkpoint the old
            # key signed past the rotation. The next round signs with the new key.
            self._kept = 0
            stored = self.store.latest_checkpoint()
            if stored is not None and self.checkpoint_file is not None:
                _write_durably(self.checkpoint_file, stored[1].encode("utf-8"))
                self._kept = stored[0]
            self.adopt_keys()
            return stored
        self._published = self.store.latest_checkpoint()
        for listener in self.listeners:
            listener(size)
        return self._published

    def _keep(self, size: int, signed: str) -> None:
        if self.checkpoint_file is None or size <= self._kept:
            return
        _write_durably(self.checkpoint_file, signed.encode("utf-8"))
        self._kept = size

    def published_size(self) -> int:
        """Size of the newest checkpoint this process has seen; cheap, for waiting loops."""
        return self._published[0] if self._published else 0

    # -- serving ------------------------------------------------------------------------------

    def checkpoint(self) -> tuple[int, str]:
        latest = self.store.latest_checkpoint() or self.publish()
        if latest is None:
            # An empty log still has a checkpoint: size 0 and the hash of nothing.
            with self._lock:
                signed = cp.sign_checkpoint(
                    cp.Checkpoint(self.origin, 0, self.tree.root(0)), self.signer
                )
            return 0, signed
        return latest

    def hash_tile(self, level: int, index: int, width: int) -> bytes:
        size = self.catch_up()
        with self._lock:
            if not tiles.tile_exists(size, level, index, width):
                raise NotFound("no such tile in the current tree")
            return tiles.hash_tile(self.tree, level, index, width)

    def entry_bundle(self, index: int, width: int) -> bytes:
        size = self.catch_up()
        start = index * tiles.TILE_WIDTH
        if width < 1 or start + width > size:
            raise NotFound("no such entry bundle in the current tree")
        return tiles.entry_bundle(self.store.entries(start, start + width))

    def _size_at_least(self, size: int) -> int:
        """The tree's size, catching up from the database only when it is behind ``size``."""
        current = self.tree.size
        return current if current >= size else self.catch_up()

    def inclusion(self, index: int, size: int) -> list[bytes]:
        current = self._size_at_least(size)
        if not 0 <= index < size <= current:
            raise NotFound(f"no inclusion proof for index {index} in a tree of size {size}")
        with self._lock:
            return self.tree.inclusion_proof(index, size)

    def root(self, size: int) -> bytes:
        """The root of the tree at an earlier ``size`` (old roots never change)."""
        current = self._size_at_least(size)
        if not 0 <= size <= current:
            raise NotFound(f"no tree of size {size}")
        with self._lock:
            return self.tree.root(size)

    def consistency(self, old: int, new: int) -> list[bytes]:
        current = self._size_at_least(new)
        if not 0 <= old <= new <= current:
            raise NotFound(f"no consistency proof from {old} to {new}")
        with self._lock:
            return self.tree.consistency_proof(old, new)

    def receipt(self, sub: Submission) -> dict[str, Any] | None:
        """The offline-verifiable receipt, or None while no checkpoint covers the entry yet."""
        latest = self._published
        if latest is None or latest[0] <= sub.log_index:
            latest = self.store.latest_checkpoint()
        if latest is None or latest[0] <= sub.log_index:
            return None
        size, signed = latest
        entry = self._entry(sub.log_index)
        proof = self.inclusion(sub.log_index, size)
        return {
            "version": RECEIPT_VERSION,
            "origin": self.origin,
            "index": sub.log_index,
            "tree_size": size,
            "entry": _b64(entry),
            "inclusion_proof": [_b64(h) for h in proof],
            "checkpoint": signed,
            # The chain from every earlier key to the one that signed the checkpoint: a party
            # that pinned the log's first key verifies this receipt with it alone.
            **({"key_rotations": rotations} if (rotations := self._history_for(signed)) else {}),
            "submission": {
                "id": sub.id,
                "kind": sub.kind,
                "party": sub.party_id,
                "received_at": sub.received_at,
                "jws": sub.jws,
                "salt": sub.salt,
            },
        }


def _signed_by(signed: str, key: note.Verifier) -> bool:
    """Whether a signature line of the note names ``key`` (by name and key id; not verified:
    only which history to attach depends on it, and the receipt's reader verifies)."""
    _, _, signatures = signed.partition("\n\n")
    for line in signatures.splitlines():
        name, _, encoded = line.removeprefix("\u2014 ").rpartition(" ")
        try:
            if name == key.name and base64.b64decode(encoded)[:4] == key.key_id:
                return True
        except ValueError:  # binascii.Error: a damaged line is no signature by this key
            continue
    return False


# -- the start-up check ---------------------------------------------------------------------


def _write_durably(path: Path, data: bytes) -> None:
    # Several processes on one PostgreSQL may share a data directory: each its own file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself, so a crash cannot bring back the old file
    finally:
        os.close(directory)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
