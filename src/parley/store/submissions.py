"""Submissions: appending a batch to the log in one transaction, and audience-checked reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from parley.store import base
from parley.store import schema as t
from parley.store.base import Base, submission_columns, visible_to
from parley.store.rows import REPLAYED, NewSubmission, Submission, stored_body


class Submissions(Base):
    """The submissions table, its audiences and the log entries appended with them."""

    def append(self, batch: Sequence[NewSubmission]) -> list[int]:
        """Store a batch in one transaction; answer each one's log index, or REPLAYED."""
        with self._write_lock:
            try:
                with self._writer.begin() as conn:
                    return self._append(conn, batch)
            except IntegrityError:
                # Another process took a nonce between our check and our insert: redo the
                # batch one at a time so only the replay is refused.
                results = []
                for one in batch:
                    try:
                        with self._writer.begin() as conn:
                            results.extend(self._append(conn, [one]))
                    except IntegrityError:
                        results.append(REPLAYED)
                return results

    def _append(self, conn: Connection, batch: Sequence[NewSubmission]) -> list[int]:
        seen = self._used_nonces(conn, batch)
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
        size = conn.execute(
            select(t.log_state.c.size).where(t.log_state.c.id == 1).with_for_update()
        ).scalar_one()
        rows = [
            {
                "id": s.id,
                "kind": s.kind,
                "party_id": s.party_id,
                "nonce": s.nonce,
                "client_time": s.client_time,
                "received_at": s.received_at,
                "audience_all": s.audience is None,
                "jws": s.jws,
                "salt": s.salt,
                "log_index": size + i,
            }
            for i, s in enumerate(fresh)
        ]
        seqs = (
            conn.execute(
                insert(t.submissions).returning(t.submissions.c.seq, sort_by_parameter_order=True),
                rows,
            )
            .scalars()
            .all()
        )
        members = [
            {"submission_seq": seq, "party_id": party}
            for seq, sub in zip(seqs, fresh, strict=True)
            for party in sub.audience or ()
        ]
        if members:
            conn.execute(insert(t.audiences), members)
        conn.execute(
            insert(t.log_entries),
            [{"idx": size + i, "entry": s.entry} for i, s in enumerate(fresh)],
        )
        conn.execute(
            update(t.log_state).where(t.log_state.c.id == 1).values(size=size + len(fresh))
        )
        return [r if r == REPLAYED else size + r for r in results]

    @staticmethod
    def _used_nonces(conn: Connection, batch: Sequence[NewSubmission]) -> set[tuple[str, str]]:
        # One `party_id = ? AND nonce IN (...)` per party: a row-value IN makes SQLite scan the
        # whole unique index on every commit, so writes slowed as the log grew.
        by_party: dict[str, list[str]] = {}
        for s in batch:
            by_party.setdefault(s.party_id, []).append(s.nonce)
        c = t.submissions.c
        found: set[tuple[str, str]] = set()
        for party, nonces in by_party.items():
            rows = conn.execute(
                select(c.nonce).where(c.party_id == party, c.nonce.in_(nonces))
            ).all()
            found.update((party, row[0]) for row in rows)
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
        c = t.submissions.c
        conditions = [c.kind.in_(list(kinds)), c.log_index > after]
        if before is not None:
            conditions.append(c.log_index < before)
        query = select(*submission_columns()).where(*conditions).order_by(c.log_index)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield Submission(*row)

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
