"""The hub's side of the log: the tree in memory, signed checkpoints, tiles and receipts.

The database is the source of truth (entries are sequenced there, under the ``log_state`` lock);
each process keeps the Merkle tree in memory and catches up from the database, so several
processes on one PostgreSQL serve the same tree. A background thread publishes a signed
checkpoint whenever the tree has grown, at most ``checkpoint_interval_s`` after an entry lands.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.errors import NotFound
from parley.log import checkpoint as cp
from parley.log import merkle, note, tiles
from parley.store.db import Store, Submission

RECEIPT_VERSION = "parley-receipt/1"
CATCH_UP_CHUNK = 10_000


class HubLog:
    def __init__(
        self, store: Store, key: Ed25519PrivateKey, origin: str, interval_s: float
    ) -> None:
        self.store = store
        self.origin = origin
        self.signer = note.Signer(origin, key)
        self.verifier_key = self.signer.verifier().key_string()
        self.tree = merkle.MerkleTree()
        self._lock = threading.Lock()
        self._published: tuple[int, str] | None = store.latest_checkpoint()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interval = interval_s
        self.listeners: list[Callable[[int], None]] = []
        self.catch_up()
        self._thread = threading.Thread(target=self._run, name="parley-checkpoints", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    # -- growing the tree ---------------------------------------------------------------------

    def catch_up(self) -> int:
        """Append to the in-memory tree every entry the database has and the tree lacks."""
        with self._lock:
            target = self.store.log_size()
            while self.tree.size < target:
                stop = min(target, self.tree.size + CATCH_UP_CHUNK)
                for entry in self.store.entries(self.tree.size, stop):
                    self.tree.append(merkle.leaf_hash(entry))
            return self.tree.size

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
            except Exception:  # the next round retries; a failure must not stop publishing
                import logging

                logging.getLogger("parley.log").exception("checkpoint publication failed")

    def publish(self) -> tuple[int, str] | None:
        size = self.catch_up()
        latest = self.store.latest_checkpoint()
        if latest is not None and latest[0] >= size:
            self._published = latest
            return latest
        if size == 0:
            return None
        with self._lock:
            body = cp.Checkpoint(self.origin, size, self.tree.root(size))
            signed = cp.sign_checkpoint(body, self.signer)
        self.store.save_checkpoint(size, signed)
        self._published = self.store.latest_checkpoint()
        for listener in self.listeners:
            listener(size)
        return self._published

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
        (entry,) = self.store.entries(sub.log_index, sub.log_index + 1)
        proof = self.inclusion(sub.log_index, size)
        return {
            "version": RECEIPT_VERSION,
            "origin": self.origin,
            "index": sub.log_index,
            "tree_size": size,
            "entry": _b64(entry),
            "inclusion_proof": [_b64(h) for h in proof],
            "checkpoint": signed,
            "submission": {
                "id": sub.id,
                "kind": sub.kind,
                "party": sub.party_id,
                "received_at": sub.received_at,
                "jws": sub.jws,
                "salt": sub.salt,
            },
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
