"""The engines every part of the store shares, and the one audience check.

Every read that returns a record takes the viewing party and filters by audience in SQL, through
:func:`visible_to`: there is no unfiltered read path for the API to call by mistake. Writes are
called from a single writer thread per process (see ``parley.hub.writer``); on PostgreSQL several
processes may write at once and queue on the ``log_state`` row lock, which is what keeps the log
free of gaps and forks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exists, or_, select
from sqlalchemy.sql.elements import BindParameter

from parley.store import schema as t

BUSY_TIMEOUT_S = 10


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Base:
    """The connection pools: ``engine`` for reads, ``_writer`` (under ``_write_lock``) for the
    writer thread's transactions. On SQLite they are separate, so reads never BEGIN IMMEDIATE."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = _is_sqlite(url)
        self._write_lock = threading.Lock()
        if self.sqlite:
            self.engine = create_engine(url, connect_args={"check_same_thread": False})
            self._writer = create_engine(url, connect_args={"check_same_thread": False})
            _sqlite_pragmas(self.engine, immediate=False)
            _sqlite_pragmas(self._writer, immediate=True)
            _writers_take_turns(self._writer, url.removeprefix("sqlite:///"))
        else:
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            self.engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self._writer = self.engine

    def close(self) -> None:
        self.engine.dispose()
        self._writer.dispose()

    def _sql(self, statement: str) -> str:
        """Plain SQL for the DB-API cursor, written with ``?``: sqlite3 takes ``?``
        placeholders, psycopg ``%s``."""
        return statement if self.sqlite else statement.replace("?", "%s")

    def _read_rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """A read on the hottest paths (receipts, catch-ups), on the DB-API cursor:
        SQLAlchemy's statement building and result processing cost several times the query."""
        with self.engine.connect() as conn, dbapi_cursor(conn) as cursor:
            cursor.execute(self._sql(statement), params)
            return list(cursor.fetchall())

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._writer.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def values_rows(count: int, width: int) -> str:
    """The VALUES list of a multi-row INSERT: ``count`` rows of ``width`` placeholders."""
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * count)


def visible_to(viewer: str | BindParameter[str]) -> Any:
    """The one audience check every read goes through (``viewer``: a party id, or a bound
    parameter in statements built once and run many times)."""
    members = exists().where(
        t.audiences.c.submission_seq == t.submissions.c.seq, t.audiences.c.party_id == viewer
    )
    return or_(t.submissions.c.audience_all, members)


def audience_of(conn: Connection, submission_id: str) -> frozenset[str] | None:
    """Who may see a record: None for every party. Unfiltered: callers must already have found
    the record through an audience-checked read."""
    c = t.submissions.c
    a = t.audiences.c
    row = conn.execute(select(c.seq, c.audience_all).where(c.id == submission_id)).first()
    if row is None or row[1]:
        return None
    members = conn.execute(select(a.party_id).where(a.submission_seq == row[0]))
    return frozenset(r[0] for r in members)


def party_columns() -> list[Any]:
    c = t.parties.c
    return [
        c.id,
        c.name,
        c.role,
        c.public_key,
        c.created_at,
        c.status,
        c.status_since,
        c.token_expires_at,
    ]


def submission_columns() -> list[Any]:
    c = t.submissions.c
    return [
        c.seq,
        c.id,
        c.kind,
        c.party_id,
        c.nonce,
        c.client_time,
        c.received_at,
        c.audience_all,
        c.jws,
        c.salt,
        c.log_index,
    ]


def _sqlite_pragmas(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below be the only transaction control.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns, so no checkpoint (and no receipt)
        # can cover an entry an OS crash or power cut would take back (docs/log.md).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits instead of failing with
        # SQLITE_BUSY when another process (a CLI command, say) writes at the same time.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _writers_take_turns(engine: Engine, database: str) -> None:
    """Serve processes on one SQLite file (`serve --workers N`) queue for the write lock on a
    file lock next to the database, taken before BEGIN IMMEDIATE and released when the
    connection goes back to the pool (after its COMMIT or ROLLBACK).

    Without it they met SQLite's busy handler, which sleeps 1, 2, 5, 10, ... ms between tries;
    a waiter on a file lock is woken the moment it is released. (On 2 cores, `--workers 2`
    measured the same either way, within noise: bench/README.md.) SQLite's own locking still
    decides; this only orders the queue (a `parley` command writing at the same time still
    meets the busy handler)."""
    if not database or database.startswith(":memory:"):
        return
    path = f"{database}-writers.lock"

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        # One open file per connection: flock() excludes open files, so two threads of one
        # process queue too.
        record.info["writers_lock"] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_conn: Any, record: Any) -> None:
        lock = record.info.pop("writers_lock", None)
        if lock is not None:
            os.close(lock)

    @event.listens_for(engine, "begin", insert=True)  # before BEGIN IMMEDIATE
    def _on_begin(conn: Connection) -> None:
        _take_turn(conn.connection.info["writers_lock"])

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if "writers_lock" in record.info:
            _end_turn(record.info["writers_lock"])


_turns = threading.local()


def _take_turn(lock: int) -> None:
    """Wait for the writers' file lock. A write transaction opened inside another one on the
    same thread skips it: SQLite's busy handler answers that "database is locked" after
    BUSY_TIMEOUT_S, where a blocked flock() would hang."""
    if getattr(_turns, "held", 0):
        return
    fcntl.flock(lock, fcntl.LOCK_EX)
    _turns.held = lock


def _end_turn(lock: int) -> None:
    fcntl.flock(lock, fcntl.LOCK_UN)
    if getattr(_turns, "held", 0) == lock:
        _turns.held = 0


@contextlib.contextmanager
def dbapi_cursor(conn: Connection) -> Iterator[Any]:
    """The driver's own cursor on ``conn``, in its transaction, closed afterwards."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()
