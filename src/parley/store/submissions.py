"""Submissions: appending a batch to the log in one transaction, and audience-checked reads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError

from parley.store import base
from parley.store import schema as t
from parley.store.base import Base, dbapi_cursor, submission_columns, visible_to
from parley.store.rows import REPLAYED, NewSubmission, Submission, stored_body

# Rows per multi-row INSERT: well under both databases' limit on bound parameters.
_CHUNK = 500
_SEQUENCE = "UPDATE log_state SET size = size + ? WHERE id = 1 RETURNING size"
_NONCES = "SELECT nonce FROM submissions WHERE party_id = ? AND nonce IN "
_INSERT_SUBMISSIONS = (
    "INSERT INTO submissions (id, kind, party_id, nonce, client_time, received_at, "
    "audience_all, jws, salt, log_index) VALUES "
)
_INSERT_ENTRIES = "INSERT INTO log_entries (idx, entry) VALUES "
_INSERT_AUDIENCES = "INSERT INTO audiences (submission_seq, party_id) VALUES "
# In the order of Submission's fields (store.base.submission_columns).
_SUBMISSION_COLUMNS = (
    "seq, id, kind, party_id, nonce, client_time, received_at, audience_all, jws, salt, log_index"
)


WithinCommit = Callable[[Connection, Sequence[NewSubmission], Sequence[int]], None]
log = logging.getLogger("parley.store")


def _within(
    conn: Connection,
    steps: Sequence[WithinCommit],
    batch: Sequence[NewSubmission],
    results: Sequence[int],
) -> None:
    for step in steps:
        try:
            with conn.begin_nested():
                step(conn, batch, results)
        except Exception:  # the batch is stored whatever happens here: its callers are answered
            log.exception("a step inside the writer's transaction failed; it was undone")


class Submissions(Base):
    """The submissions table, its audiences and the log entries appended with them."""

    def append(
        self, batch: Sequence[NewSubmission], within: Sequence[WithinCommit] = ()
    ) -> list[int]:
        """Store a batch in one transaction; answer each one's log index, or REPLAYED.

        Each step ``within`` writes what follows from the batch (the TAXII index rows, say) in
        the same transaction, under a savepoint of its own: if one fails, only its writes are
        undone, and the batch commits without them (a step must leave a way to write them
        later)."""
        with self._write_lock:
            try:
                with self._writer.begin() as conn:
                    results = self._append(conn, batch)
                    if within:
                        _within(conn, within, batch, results)
                    return results
            except self._integrity_errors():
                # Another process took a nonce between our check and our insert: redo the
                # batch one at a time so only the replay is refused.
                results = []
                for one in batch:
                    try:
                        with self._writer.begin() as conn:
                            results.extend(self._append(conn, [one]))
                    except self._integrity_errors():
                        results.append(REPLAYED)
                return results

    def _integrity_errors(self) -> tuple[type[Exception], ...]:
        # The raw cursor below raises the driver's own IntegrityError, not SQLAlchemy's.
        return (IntegrityError, self._writer.dialect.loaded_dbapi.IntegrityError)

    def _append(self, conn: Connection, batch: Sequence[NewSubmission]) -> list[int]:
        # The hottest statements in the hub, so they go straight to the DB-API cursor: building
        # and compiling SQLAlchemy expressions cost ten times the SQL itself at one submission
        # per commit (bench/README.md, issue 17). Four statements a group: the nonce probe, the
        # sequencing UPDATE ... RETURNING (on PostgreSQL it takes the log_state row lock that
        # keeps concurrent writers gap-free), one multi-row insert of the rows and one of their
        # log entries (plus one of audiences when a record is restricted).
        with dbapi_cursor(conn) as cursor:
            return self._append_rows(cursor, batch)

    def _append_rows(self, cursor: Any, batch: Sequence[NewSubmission]) -> list[int]:
        seen = self._used_nonces(cursor, batch)
        fresh: list[NewSubmission] = []
        results: list[int] = []
        for sub in batch:
            key = (sub.party_id, sub.nonce)
            if key in seen:
                results.append(REPLAYED)
                continue
            seen.add(key)
            fresh.append(sub)
            results.append(len(fresh) - 1)
        if not fresh:
            return results
        cursor.execute(self._sql(_SEQUENCE), (len(fresh),))
        size = int(cursor.fetchone()[0]) - len(fresh)
        seqs: dict[int, int] = {}
        restricted = any(s.audience is not None for s in fresh)
        for start in range(0, len(fresh), _CHUNK):
            chunk = fresh[start : start + _CHUNK]
            params: list[Any] = []
            for i, s in enumerate(chunk, start):
                params += (s.id, s.kind, s.party_id, s.nonce, s.client_time, s.received_at)
                params += (s.audience is None, s.jws, s.salt, size + i)
            statement = _INSERT_SUBMISSIONS + base.values_rows(len(chunk), 10)
            if restricted:
                cursor.execute(self._sql(statement + " RETURNING log_index, seq"), params)
                seqs.update((int(index), int(seq)) for index, seq in cursor.fetchall())
            else:
                cursor.execute(self._sql(statement), params)
            entries: list[Any] = []
            for i, s in enumerate(chunk, start):
                entries += (size + i, s.entry)
            cursor.execute(self._sql(_INSERT_ENTRIES + base.values_rows(len(chunk), 2)), entries)
        members = [
            (seqs[size + i], party) for i, s in enumerate(fresh) for party in s.audience or ()
        ]
        for start in range(0, len(members), _CHUNK):
            chunk_members = members[start : start + _CHUNK]
            flat = [value for pair in chunk_members for value in pair]
            cursor.execute(
                self._sql(_INSERT_AUDIENCES + base.values_rows(len(chunk_members), 2)), flat
            )
        return [r if r == REPLAYED else size + r for r in results]

    def _used_nonces(self, cursor: Any, batch: Sequence[NewSubmission]) -> set[tuple[str, str]]:
        # One `party_id = ? AND nonce IN (...)` per party: a row-value IN makes SQLite scan the
        # whole unique index on every commit, so writes slowed as the log grew.
        by_party: dict[str, list[str]] = {}
        for s in batch:
            by_party.setdefault(s.party_id, []).append(s.nonce)
        found: set[tuple[str, str]] = set()
        for party, nonces in by_party.items():
            for start in range(0, len(nonces), _CHUNK):
                some = nonces[start : start + _CHUNK]
                marks = ", ".join("?" * len(some))
                cursor.execute(self._sql(_NONCES + f"({marks})"), (party, *some))
                found.update((party, row[0]) for row in cursor.fetchall())
        return found

    def get_submission(self, submission_id: str, viewer: str) -> Submission | None:
        query = select(*submission_columns()).where(
            t.submissions.c.id == submission_id, visible_to(viewer)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return Submission(*row) if row else None

    def list_submissions(
        self,
        viewer: str,
        *,
        after: int = -1,
        limit: int = 100,
        kind: str | None = None,
        party: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Submission]:
        c = t.submissions.c
        conditions = [c.log_index > after, visible_to(viewer)]
        if kind is not None:
            conditions.append(c.kind == kind)
        if party is not None:
            conditions.append(c.party_id == party)
        if since is not None:
            conditions.append(c.received_at >= since)
        if until is not None:
            conditions.append(c.received_at < until)
        query = select(*submission_columns()).where(and_(*conditions)).order_by(c.log_index)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [Submission(*row) for row in rows]

    def iter_submissions(
        self, kinds: Sequence[str], after: int = -1, before: int | None = None
    ) -> Iterator[Submission]:
        """Submissions of these kinds in log order, after the log index ``after`` (and before
        ``before``), for the hub's own index (no audience filter: nothing read here is served
        without passing an audience check)."""
        # Every process asks this before it checks a request when others write too, so it is
        # plain SQL on the DB-API cursor: SQLAlchemy's statement building, caching and result
        # processing cost about ten times the query. `kind || ''`, not `kind`: with the bare
        # column SQLite answered from the kind index, reading every row of those kinds to find
        # the few after ``after`` (a catch-up grew with the log: 3 ms a submission at 5,000
        # rows); this way it walks the log_index index from ``after``.
        marks = ", ".join("?" * len(kinds))
        statement = (
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions "
            f"WHERE (kind || '') IN ({marks}) AND log_index > ?"
        )
        params: list[Any] = [*kinds, after]
        if before is not None:
            statement += " AND log_index < ?"
            params.append(before)
        with self.engine.connect() as conn, dbapi_cursor(conn) as cursor:
            cursor.execute(self._sql(statement + " ORDER BY log_index"), params)
            while rows := cursor.fetchmany(500):
                for row in rows:
                    values = list(row)
                    values[7] = bool(values[7])  # SQLite answers 0 or 1
                    yield Submission(*values)

    def latest_of_kind(self, kind: str) -> Submission | None:
        """The newest submission of ``kind``, for records every party sees (the hub's own)."""
        c = t.submissions.c
        query = (
            select(*submission_columns())
            .where(c.kind == kind, c.audience_all)
            .order_by(c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return Submission(*row) if row else None

    def last_submitted(self, viewer: str) -> dict[str, str]:
        """Per party, when it last submitted something ``viewer`` may see: a restricted record
        must not tell outsiders who was active when its entry appeared in the log."""
        c = t.submissions.c
        query = (
            select(c.party_id, func.max(c.received_at))
            .where(visible_to(viewer))
            .group_by(c.party_id)
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def audience_of(self, submission_id: str) -> frozenset[str] | None:
        """Who may see a record: None for every party. Unfiltered: callers must already have
        found the record through an audience-checked read."""
        with self.engine.connect() as conn:
            return base.audience_of(conn, submission_id)

    def acknowledged(
        self, party: str, records: Sequence[str] | None = None, viewer: str | None = None
    ) -> set[str]:
        """The records ``party`` has acknowledged (of ``records``, if given), counting only
        acknowledgements ``viewer`` may see, if given."""
        c = t.submissions.c
        query = select(c.jws).where(c.kind == "acknowledgement", c.party_id == party)
        if viewer is not None:
            query = query.where(visible_to(viewer))
        with self.engine.connect() as conn:
            subjects = {stored_body(row[0]).get("record") for row in conn.execute(query)}
        found = {s for s in subjects if isinstance(s, str)}
        return found if records is None else found & set(records)
