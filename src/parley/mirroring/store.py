"""The mirror's state in SQLite, ``synchronous=FULL``: a commit is on disk when it returns.

Tiles and the checkpoint they verify are committed in one transaction, and only then does the
mirror cosign: a cosignature it handed out always names a tree it can still serve after a
crash. Forks, once recorded, are never deleted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.log import checkpoint as cp
from parley.log import note
from parley.log.merkle import HASH_SIZE
from parley.log.tiles import bundles_for_size, tile_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tiles (path TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    note TEXT NOT NULL,
    cosigned TEXT
);
CREATE TABLE IF NOT EXISTS forks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    file TEXT NOT NULL,
    summary TEXT NOT NULL,
    evidence TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Head:
    """The newest checkpoint the mirror verified and stored, and its cosigned form if made."""

    note: str
    checkpoint: cp.Checkpoint
    cosigned: str | None


@dataclass(frozen=True)
class ForkRecord:
    id: int
    at: str
    kind: str
    file: str
    summary: str
    evidence: dict[str, Any]


class MirrorStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._write = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per use: the serving thread reads while the follower writes, and WAL
        # lets them do so without blocking each other.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def head(self) -> Head | None:
        with self._connect() as db:
            row = db.execute("SELECT note, cosigned FROM head WHERE id = 1").fetchone()
        if row is None:
            return None
        text, _ = note.parse_note(row[0])
        return Head(row[0], cp.parse(text), row[1])

    def save(
        self, signed: str, checkpoint: cp.Checkpoint, tiles: Iterable[tuple[str, bytes]]
    ) -> None:
        """Store the tiles and make ``signed`` the head, in one durable transaction."""
        with self._write, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO tiles (path, data) VALUES (?, ?)", tiles)
                db.execute(
                    "INSERT OR REPLACE INTO head (id, origin, size, note, cosigned) "
                    "VALUES (1, ?, ?, ?, NULL)",
                    (checkpoint.origin, checkpoint.size, signed),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def add_tiles(self, tiles: Iterable[tuple[str, bytes]]) -> None:
        """Store tiles ahead of the checkpoint that will cover them (not served until then)."""
        with self._write, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO tiles (path, data) VALUES (?, ?)", tiles)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def set_cosigned(self, size: int, cosigned: str) -> None:
        with self._write, self._connect() as db:
            db.execute("UPDATE head SET cosigned = ? WHERE id = 1 AND size = ?", (cosigned, size))

    def tile(self, path: str) -> bytes | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM tiles WHERE path = ?", (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def has_tiles(self, paths: Iterable[str]) -> bool:
        with self._connect() as db:
            return all(
                db.execute("SELECT 1 FROM tiles WHERE path = ?", (p,)).fetchone() is not None
                for p in paths
            )

    def leaves(self, size: int) -> bytes:
        """The packed leaf hashes of the first ``size`` entries, from the level-0 tiles."""
        parts = []
        with self._connect() as db:
            for bundle in bundles_for_size(size):
                path = tile_path(0, bundle.index, bundle.width)
                row = db.execute("SELECT data FROM tiles WHERE path = ?", (path,)).fetchone()
                if row is None or len(row[0]) != bundle.width * HASH_SIZE:
                    raise RuntimeError(f"{self.path} lacks {path}; the mirror state is damaged")
                parts.append(bytes(row[0]))
        return b"".join(parts)

    def add_fork(
        self, at: str, kind: str, file: str, summary: str, evidence: dict[str, Any]
    ) -> None:
        with self._write, self._connect() as db:
            db.execute(
                "INSERT INTO forks (at, kind, file, summary, evidence) VALUES (?, ?, ?, ?, ?)",
                (at, kind, file, summary, json.dumps(evidence)),
            )

    def forks(self) -> list[ForkRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, at, kind, file, summary, evidence FROM forks ORDER BY id"
            ).fetchall()
        return [ForkRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]
