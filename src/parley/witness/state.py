"""The witness's memory: which logs it cosigns for, and the last checkpoint it cosigned of each.

One SQLite file. ``logs`` holds the trusted keys per origin (several keys per origin let a log
rotate its key); ``checkpoints`` the latest cosigned checkpoint per origin; ``sightings`` what
the witness refused that may be evidence of a misbehaving log (a fork, a rollback), kept for
good.

The latest checkpoint only moves by :meth:`WitnessStore.advance`, a compare-and-swap on the size
and root the caller checked its proof against: of two requests racing from the same old state,
one wins and the other sees that nothing changed. Triggers refuse, whatever the caller, any
update that shrinks the tree or changes the root at the same size, and any delete, so the
state is never rolled back or reset even by a hand-typed SQL statement.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin   TEXT NOT NULL,
    log_key  TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (origin, log_key)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    origin     TEXT PRIMARY KEY,
    tree_size  INTEGER NOT NULL CHECK (tree_size >= 0),
    root       BLOB NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sightings (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    origin   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL,
    note     TEXT NOT NULL,
    cosigned TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS checkpoints_never_roll_back
BEFORE UPDATE ON checkpoints
WHEN NEW.origin != OLD.origin
  OR NEW.tree_size < OLD.tree_size
  OR (NEW.tree_size = OLD.tree_size AND NEW.root != OLD.root)
BEGIN
    SELECT RAISE(ABORT, 'a witness never rolls back or forks its cosigned checkpoint');
END;
CREATE TRIGGER IF NOT EXISTS checkpoints_never_reset
BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'a witness never forgets a cosigned checkpoint');
END;
CREATE TRIGGER IF NOT EXISTS sightings_kept
BEFORE DELETE ON sightings
BEGIN
    SELECT RAISE(ABORT, 'evidence of log misbehaviour is kept');
END;
"""


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint the witness cosigned for one origin."""

    origin: str
    tree_size: int
    root: bytes
    note: str
    """The checkpoint with the log's signatures the witness verified and its cosignature."""
    updated_at: int


@dataclass(frozen=True)
class Sighting:
    at: int
    origin: str
    kind: str
    detail: str
    note: str
    """The signed checkpoint that was refused."""
    cosigned: str
    """The cosigned checkpoint it conflicts with (empty if none): with ``note``, evidence
    anyone can check offline."""


class WitnessStore:
    """Opens a short-lived connection per call, so any thread may use one store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a cosignature is only returned once its state is on disk.
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    def add_log(self, origin: str, log_key: str) -> bool:
        """Trust ``log_key`` for ``origin``; False if it already was."""
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO logs (origin, log_key, added_at) VALUES (?, ?, ?)",
                (origin, log_key, int(time.time())),
            )
            return cur.rowcount == 1

    def log_keys(self, origin: str) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT log_key FROM logs WHERE origin = ? ORDER BY added_at, log_key", (origin,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def origins(self) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT origin FROM logs ORDER BY origin").fetchall()
        return [str(r[0]) for r in rows]

    def latest(self, origin: str) -> Cosigned | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT origin, tree_size, root, note, updated_at FROM checkpoints"
                " WHERE origin = ?",
                (origin,),
            ).fetchone()
        if row is None:
            return None
        return Cosigned(str(row[0]), int(row[1]), bytes(row[2]), str(row[3]), int(row[4]))

    def advance(
        self, origin: str, old: Cosigned | None, tree_size: int, root: bytes, note: str
    ) -> bool:
        """Record ``(tree_size, root)`` as the latest cosigned checkpoint if the stored one is
        still ``old`` (None: there is none yet). False if another request got there first."""
        now = int(time.time())
        with self._connect() as conn:
            if old is None:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO checkpoints"
                    " (origin, tree_size, root, note, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (origin, tree_size, root, note, now),
                )
            else:
                try:
                    cur = conn.execute(
                        "UPDATE checkpoints SET tree_size = ?, root = ?, note = ?,"
                        " updated_at = ? WHERE origin = ? AND tree_size = ? AND root = ?",
                        (tree_size, root, note, now, origin, old.tree_size, old.root),
                    )
                except sqlite3.IntegrityError:
                    # The triggers' second line of defence: never reached while the
                    # compare-and-swap above holds, and then still no rollback.
                    return False
            return cur.rowcount == 1

    def record_sighting(
        self, origin: str, kind: str, detail: str, note: str, cosigned: str
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO sightings (at, origin, kind, detail, note, cosigned)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (int(time.time()), origin, kind, detail, note, cosigned),
            )

    def sightings(self, origin: str | None = None) -> list[Sighting]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT at, origin, kind, detail, note, cosigned FROM sightings"
                " WHERE ? IS NULL OR origin = ? ORDER BY id",
                (origin, origin),
            ).fetchall()
        return [
            Sighting(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5])) for r in rows
        ]
