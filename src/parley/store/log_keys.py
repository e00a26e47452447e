"""The log's keys: the rotation chain, and checkpoint writes that only the key in force makes.

Rotating and publishing both take the ``log_state`` row lock (SQLite: the write lock), so a
process that has not yet seen a rotation cannot save a checkpoint past it under the old key.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from parley import clock
from parley.errors import Conflict
from parley.store import schema as t
from parley.store.base import Base


class StaleLogKey(Conflict):
    title = "Log key rotated"
    slug = "log-key-rotated"


class LogKeys(Base):
    def log_key_rotations(self) -> list[str]:
        """The rotation checkpoints, oldest first (empty: the log never rotated its key)."""
        c = t.log_keys.c
        query = select(c.note).where(c.seq > 0).order_by(c.seq)
        with self.engine.connect() as conn:
            return [str(row[0]) for row in conn.execute(query)]

    @staticmethod
    def _current(conn: Connection) -> str | None:
        c = t.log_keys.c
        row = conn.execute(select(c.verifier_key).order_by(c.seq.desc()).limit(1)).first()
        return str(row[0]) if row else None

    def _lock_log(self, conn: Connection) -> None:
        query = select(t.log_state.c.size).where(t.log_state.c.id == 1)
        conn.execute(query if self.sqlite else query.with_for_update())

    def record_log_key_rotation(
        self, first_key: str, old_key: str, new_key: str, size: int, note: str
    ) -> None:
        """Put ``new_key`` in force from ``size`` on, if ``old_key`` is the key in force and no
        checkpoint beyond ``size`` was saved (else :class:`StaleLogKey`: check again)."""
        c = t.log_keys.c
        now = clock.iso(clock.now())
        with self._write_lock, self._writer.begin() as conn:
            self._lock_log(conn)
            current = self._current(conn) or first_key
            if current != old_key:
                raise StaleLogKey(f"the log key in force is now {current}, not {old_key}")
            top = conn.execute(
                select(t.checkpoints.c.size).order_by(t.checkpoints.c.size.desc()).limit(1)
            ).scalar()
            if top is not None and int(top) > size:
                raise StaleLogKey(f"a checkpoint of size {top} was signed since size {size}")
            seq = conn.execute(select(c.seq).order_by(c.seq.desc()).limit(1)).scalar()
            if seq is None:
                conn.execute(
                    insert(t.log_keys).values(
                        seq=0, verifier_key=first_key, size=0, note=None, created_at=now
                    )
                )
                seq = 0
            conn.execute(
                insert(t.log_keys).values(
                    seq=int(seq) + 1, verifier_key=new_key, size=size, note=note, created_at=now
                )
            )

    def save_checkpoint_signed(self, size: int, note: str, key: str) -> None:
        """Save a checkpoint signed by ``key``, unless another key was put in force."""
        with self._write_lock:
            try:
                with self._writer.begin() as conn:
                    if not self.sqlite:
                        # As in save_checkpoint: commit only once the WAL is flushed past
                        # every entry the checkpoint covers.
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
                    self._lock_log(conn)
                    current = self._current(conn)
                    if current is not None and current != key:
                        raise StaleLogKey(f"the log key in force is now {current}")
                    conn.execute(
                        insert(t.checkpoints).values(
                            size=size, note=note, created_at=clock.iso(clock.now())
                        )
                    )
            except IntegrityError:
                pass  # another process published this size first; same tree, same root
