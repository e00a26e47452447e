"""The log: its entries, its size, its checkpoints, and the settings its durability rests on."""

from __future__ import annotations

from collections.abc import Generator

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from parley import clock
from parley.store import schema as t
from parley.store.base import Base
from parley.store.rows import LogRecord


class LogState(Base):
    """Reads of the log and checkpoint writes (entries are appended with submissions)."""

    def log_size(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(t.log_state.c.size).where(t.log_state.c.id == 1)).scalar_one()
            )

    def entries(self, start: int, stop: int) -> list[bytes]:
        query = "SELECT entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx"
        return [bytes(row[0]) for row in self._read_rows(query, (start, stop))]

    def save_checkpoint(self, size: int, note: str) -> None:
        with self._write_lock:
            try:
                with self._writer.begin() as conn:
                    if not self.sqlite:
                        # A barrier: this commit returns only once the WAL is flushed up to
                        # it, and so past every entry it covers, even if the server's default
                        # is synchronous_commit=off (SQLite commits with synchronous=FULL).
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
                    conn.execute(
                        insert(t.checkpoints).values(
                            size=size, note=note, created_at=clock.iso(clock.now())
                        )
                    )
            except IntegrityError:
                pass  # another process published this size first; same tree, same root

    def latest_checkpoint(self) -> tuple[int, str] | None:
        c = t.checkpoints.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.size, c.note).order_by(c.size.desc()).limit(1)).first()
        return (int(row[0]), str(row[1])) if row else None

    def log_records(self, chunk: int = 10_000) -> Generator[LogRecord, None, None]:
        """Every stored entry in log order, beside the submission row it was derived from
        (None there when no row claims the index): streamed, for the hub's start-up check."""
        e = t.log_entries.c
        s = t.submissions.c
        query = (
            select(e.idx, e.entry, s.id, s.kind, s.party_id, s.received_at, s.jws, s.salt)
            .select_from(t.log_entries.outerjoin(t.submissions, s.log_index == e.idx))
            .order_by(e.idx)
        )
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            try:
                for row in rows:
                    yield LogRecord(int(row[0]), bytes(row[1]), *row[2:])
            finally:
                rows.close()  # a check that stops early must not leave a server cursor open

    def submission_span(self) -> tuple[int, int]:
        """How many submissions are stored, and one past the highest log index they claim."""
        c = t.submissions.c
        with self.engine.connect() as conn:
            count, top = conn.execute(select(func.count(), func.max(c.log_index))).one()
        return int(count), -1 if top is None else int(top) + 1

    def durability(self) -> dict[str, str]:
        """The database settings a receipt's durability rests on (docs/log.md)."""
        if self.sqlite:
            with self._writer.connect() as conn:
                level = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
            names = {0: "off", 1: "normal", 2: "full", 3: "extra"}
            return {"synchronous": names.get(int(level), str(level)), "journal_mode": str(mode)}
        with self.engine.connect() as conn:
            return {
                name: str(conn.exec_driver_sql(f"SHOW {name}").scalar_one())
                for name in ("fsync", "synchronous_commit")
            }
