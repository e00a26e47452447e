"""The hub's side of the log: the tree in memory, signed checkpoints, tiles and receipts.

The database is the source of truth (entries are sequenced there, under the ``log_state`` lock);
each process keeps the Merkle tree in memory and catches up from the database, so several
processes on one PostgreSQL serve the same tree. A background thread publishes a signed
checkpoint whenever the tree has grown, at most ``checkpoint_interval_s`` after an entry lands.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.errors import NotFound
from parley.hub.cosigning import Cosigners
from parley.hub.logcheck import (
    StoredLogError,
    check_checkpoint,
    check_stored_log,
    durability_warnings,
)
from parley.log import checkpoint as cp
from parley.log import merkle, note, tiles
from parley.log.receipt import RECEIPT_VERSION
from parley.store.db import Store, Submission

log = logging.getLogger("parley.log")

_str = json.encoder.encode_basestring  # a JSON string, escaped as RFC 8785 escapes it
CATCH_UP_CHUNK = 10_000


class HubLog:
    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        origin: str,
        interval_s: float,
        checkpoint_file: Path | None = None,
        cosigners: Cosigners | None = None,
    ) -> None:
        self.store = store
        self.cosigners = cosigners or Cosigners([], 0)
        self.origin = origin
        self.signer = note.Signer(origin, key)
        self.verifier_key = self.signer.verifier().key_string()
        self._lock = threading.Lock()
        # Before anything is served or signed: a tree that contradicts a stored record or
        # the latest signed checkpoint would make every later checkpoint a fork.
        self.tree, self._published = check_stored_log(
            store, self.signer.verifier(), origin, checkpoint_file
        )
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
            except StoredLogError as exc:
                log.critical("%s; no checkpoint will be signed", exc.detail)
            except Exception:  # the next round retries; a failure must not stop publishing
                log.exception("checkpoint publication failed")

    def publish(self) -> tuple[int, str] | None:
        size = self.catch_up()
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
                check_checkpoint(self.tree, latest, self.signer.verifier(), self.origin)
            body = cp.Checkpoint(self.origin, size, self.tree.root(size))
            signed = cp.sign_checkpoint(body, self.signer)
        # Witnesses cosign before anyone is handed the checkpoint, so receipts carry them.
        signed = self.cosigners.cosign(size, signed, self.consistency)
        # The copy first: it may run ahead of the database (the entries are committed
        # already), never behind a checkpoint anyone was handed.
        self._keep(size, signed)
        self.store.save_checkpoint(size, signed)
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
