"""The storage contract, one implementation for SQLite and PostgreSQL.

Every read that returns a record takes the viewing party and filters by audience in SQL: there is
no unfiltered read path for the API to call by mistake. Writes are called from a single writer
thread per process (see ``parley.hub.writer``); on PostgreSQL several processes may write at once
and queue on the ``log_state`` row lock, which is what keeps the log free of gaps and forks.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import (
    true as sa_true,
)
from sqlalchemy.exc import IntegrityError

from parley import clock
from parley.errors import Conflict
from parley.store import schema as t


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    role: str
    public_key: str
    created_at: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "public_key": {"kty": "OKP", "crv": "Ed25519", "x": self.public_key},
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class NewSubmission:
    id: str
    kind: str
    party_id: str
    nonce: str
    client_time: str
    received_at: str
    audience: tuple[str, ...] | None  # None: every party
    jws: str
    salt: str | None
    entry: bytes


@dataclass(frozen=True)
class Submission:
    seq: int
    id: str
    kind: str
    party_id: str
    nonce: str
    client_time: str
    received_at: str
    audience_all: bool
    jws: str
    salt: str | None
    log_index: int


@dataclass(frozen=True)
class StoredConflict:
    id: str
    kind: str
    severity: str
    a_id: str
    b_id: str
    distance_m: float
    detail: str
    facts: str
    created_at: str
    parties: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    seq: int
    id: str
    kind: str
    created_at: str
    acknowledged_at: str | None
    conflict: StoredConflict | None
    subject_id: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class LogRecord:
    """A stored log entry and the submission row that claims its index (None if none does)."""

    index: int
    entry: bytes
    id: str | None
    kind: str | None
    party_id: str | None
    received_at: str | None
    jws: str | None
    salt: str | None


REPLAYED = -1


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = _is_sqlite(url)
        self._write_lock = threading.Lock()
        if self.sqlite:
            self.engine = create_engine(url, connect_args={"check_same_thread": False})
            self._writer = create_engine(url, connect_args={"check_same_thread": False})
            _sqlite_pragmas(self.engine, immediate=False)
            _sqlite_pragmas(self._writer, immediate=True)
        else:
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            self.engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self._writer = self.engine

    def close(self) -> None:
        self.engine.dispose()
        self._writer.dispose()

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._writer.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # -- parties ------------------------------------------------------------------------------

    def add_party(self, party: Party, token_digest: str) -> None:
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(t.parties).values(
                        id=party.id,
                        name=party.name,
                        role=party.role,
                        public_key=party.public_key,
                        token_digest=token_digest,
                        created_at=party.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"party {party.id!r} already exists") from None

    def party_by_token(self, token_digest: str) -> Party | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_party_columns()).where(t.parties.c.token_digest == token_digest)
            ).first()
        return Party(*row) if row else None

    def parties(self) -> list[Party]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_party_columns()).order_by(t.parties.c.id)).all()
        return [Party(*row) for row in rows]

    # -- submissions --------------------------------------------------------------------------

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
        query = select(*_submission_columns()).where(
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
        query = select(*_submission_columns()).where(and_(*conditions)).order_by(c.log_index)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [Submission(*row) for row in rows]

    def iter_submissions(self, kinds: Sequence[str], after: int = -1) -> Iterator[Submission]:
        """Submissions of these kinds in log order, for the hub's own index (no audience
        filter: nothing read here is served without passing an audience check)."""
        query = (
            select(*_submission_columns())
            .where(t.submissions.c.kind.in_(list(kinds)), t.submissions.c.log_index > after)
            .order_by(t.submissions.c.log_index)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield Submission(*row)

    def latest_of_kind(self, kind: str) -> Submission | None:
        """The newest submission of ``kind``, for records every party sees (the hub's own)."""
        c = t.submissions.c
        query = (
            select(*_submission_columns())
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
        c = t.submissions.c
        a = t.audiences.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.seq, c.audience_all).where(c.id == submission_id)).first()
            if row is None or row[1]:
                return None
            members = conn.execute(select(a.party_id).where(a.submission_seq == row[0]))
            return frozenset(r[0] for r in members)

    def intelligence_audiences(self, stix_id: str, viewer: str) -> list[frozenset[str] | None]:
        """The audiences of the intelligence records ``viewer`` may see whose object has id
        ``stix_id`` (None: every party). Indexed objects are found through the TAXII index, in
        the collections ``viewer`` could read (so the lookup uses the collection's index); the
        few the index has not reached yet, by reading their bodies."""
        from parley.intel import collections as named
        from parley.intel import schema as intel

        c = t.submissions.c
        o = intel.intel_objects.c
        with self.engine.connect() as conn:
            keys = {named.ALL} | {named.key_of((viewer, p.id)) for p in self.parties()}
            stored = conn.execute(select(intel.intel_collections.c.parties)).scalars()
            keys |= {k for k in stored if viewer in k.split(",")}
            found = [
                row[0]
                for row in conn.execute(
                    select(c.id)
                    .select_from(t.submissions.join(intel.intel_objects, o.submission_id == c.id))
                    .where(
                        o.collection_id.in_([named.id_of(k) for k in keys]),
                        o.stix_id == stix_id,
                        visible_to(viewer),
                    )
                )
            ]
            synced = conn.execute(select(intel.intel_state.c.synced_seq)).scalar()
            recent = conn.execute(
                select(c.id, c.jws).where(
                    c.kind == "intelligence", c.seq > (synced or 0), visible_to(viewer)
                )
            ).all()
        found += [row[0] for row in recent if _body(row[1]).get("id") == stix_id]
        return [self.audience_of(record) for record in found]

    def conflict_audience(self, conflict_id: str) -> frozenset[str]:
        """The parties a conflict alerted: the only ones that know it exists."""
        a = t.alerts.c
        query = (
            select(a.party_id)
            .select_from(t.alerts.join(t.conflicts, a.conflict_seq == t.conflicts.c.seq))
            .where(t.conflicts.c.id == conflict_id)
        )
        with self.engine.connect() as conn:
            return frozenset(r[0] for r in conn.execute(query))

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
            subjects = {_body(row[0]).get("record") for row in conn.execute(query)}
        found = {s for s in subjects if isinstance(s, str)}
        return found if records is None else found & set(records)

    def add_conflicts(self, found: Sequence[StoredConflict]) -> None:
        if not found:
            return
        c = t.conflicts.c
        with self._write_lock, self._writer.begin() as conn:
            seqs = (
                conn.execute(
                    insert(t.conflicts).returning(c.seq, sort_by_parameter_order=True),
                    [
                        {
                            "id": f.id,
                            "kind": f.kind,
                            "severity": f.severity,
                            "a_id": f.a_id,
                            "b_id": f.b_id,
                            "distance_m": f.distance_m,
                            "detail": f.detail,
                            "facts": f.facts,
                            "created_at": f.created_at,
                        }
                        for f in found
                    ],
                )
                .scalars()
                .all()
            )
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "party_id": party,
                    "kind": "conflict",
                    "conflict_seq": seq,
                    "created_at": f.created_at,
                }
                for seq, f in zip(seqs, found, strict=True)
                for party in f.parties
            ]
            if rows:
                conn.execute(insert(t.alerts), self._number_alerts(conn, rows))

    @staticmethod
    def _number_alerts(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each new alert its party's next cursor, inside the inserting transaction.

        On PostgreSQL another ``parley serve`` may be numbering alerts for the same party:
        locking the parties' rows (in id order, so two writers cannot deadlock) queues it until
        this transaction commits. FOR NO KEY UPDATE does not hold up inserts that merely
        reference a party. SQLite's writer already holds the database's write lock. The unique
        (party_id, party_seq) index is the backstop on both.
        """
        wanted = sorted({r["party_id"] for r in rows})
        p = t.parties.c
        conn.execute(
            select(p.id).where(p.id.in_(wanted)).order_by(p.id).with_for_update(key_share=True)
        ).all()
        a = t.alerts.c
        latest: dict[str, int] = {
            row[0]: int(row[1])
            for row in conn.execute(
                select(a.party_id, func.max(a.party_seq))
                .where(a.party_id.in_(wanted))
                .group_by(a.party_id)
            )
        }
        numbered = []
        for row in rows:
            n = latest.get(row["party_id"], 0) + 1
            latest[row["party_id"]] = n
            numbered.append({**row, "party_seq": n})
        return numbered

    def conflicts_for(
        self, party: str, after: int = 0, limit: int = 100
    ) -> list[tuple[int, StoredConflict]]:
        """Conflicts that alert ``party``, oldest first, after ``party``'s alert cursor."""
        found = self.alerts_for(party, after, limit, conflicts_only=True)
        return [(a.seq, a.conflict) for a in found if a.conflict is not None]

    def alerts_for(
        self,
        party: str,
        after: int = 0,
        limit: int = 100,
        alert_id: str | None = None,
        conflicts_only: bool = False,
    ) -> list[Alert]:
        """``party``'s alerts (or the one with ``alert_id``), oldest first, after ``after``.

        ``Alert.seq`` and ``after`` are the party's own cursor (``party_seq``), never the
        global sequence."""
        c = t.conflicts.c
        a = t.alerts.c
        query = (
            select(
                a.party_seq,
                a.id,
                a.kind,
                a.created_at,
                a.acknowledged_at,
                a.subject_id,
                a.message,
                c.id,
                c.kind,
                c.severity,
                c.a_id,
                c.b_id,
                c.distance_m,
                c.detail,
                c.facts,
                c.created_at,
            )
            .select_from(t.alerts)
            .outerjoin(t.conflicts, a.conflict_seq == c.seq)
            .where(a.party_id == party, a.party_seq > after)
            .where(a.id == alert_id if alert_id is not None else sa_true())
            .where(a.conflict_seq.is_not(None) if conflicts_only else sa_true())
            .order_by(a.party_seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Alert(
                    int(r[0]),
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    StoredConflict(*[*r[7:], (party,)]) if r[7] is not None else None,
                    r[5],
                    r[6],
                )
                for r in conn.execute(query)
            ]

    def alert_subjects(self, party: str, kind: str) -> set[str]:
        """Records ``party`` already has an alert of ``kind`` about."""
        a = t.alerts.c
        query = select(a.subject_id).where(a.party_id == party, a.kind == kind)
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query) if row[0] is not None}

    def add_alerts(self, kind: str, subject_id: str, message: str, parties: Sequence[str]) -> None:
        """Alerts about a record rather than a conflict."""
        if not parties:
            return
        now = clock.iso(clock.now())
        rows = [
            {
                "id": str(uuid.uuid4()),
                "party_id": p,
                "kind": kind,
                "subject_id": subject_id,
                "message": message,
                "created_at": now,
            }
            for p in parties
        ]
        with self._write_lock, self._writer.begin() as conn:
            conn.execute(insert(t.alerts), self._number_alerts(conn, rows))

    def set_webhook(self, party: str, url: str | None) -> None:
        """Point ``party``'s alerts at ``url`` from now on (None removes the webhook).

        Each call gives the webhook a new ``hook_id``: progress is recorded only against the
        hook a delivery was for, so a late answer from the previous URL changes nothing."""
        w = t.webhooks.c
        with self._write_lock, self._writer.begin() as conn:
            conn.execute(t.webhooks.delete().where(w.party_id == party))
            if url is not None:
                latest = conn.execute(
                    select(func.coalesce(func.max(t.alerts.c.party_seq), 0)).where(
                        t.alerts.c.party_id == party
                    )
                ).scalar_one()
                conn.execute(
                    insert(t.webhooks).values(
                        party_id=party,
                        hook_id=str(uuid.uuid4()),
                        url=url,
                        delivered_seq=latest,
                        failures=0,
                        updated_at=clock.iso(clock.now()),
                    )
                )

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook, for the delivery thread; ``delivered_seq`` is a party cursor."""
        w = t.webhooks.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(w.party_id, w.hook_id, w.url, w.delivered_seq, w.failures, w.updated_at)
            ).all()
        return [
            {
                "party": r[0],
                "hook_id": r[1],
                "url": r[2],
                "delivered_seq": int(r[3]),
                "failures": int(r[4]),
                "updated_at": r[5],
            }
            for r in rows
        ]

    def webhook_progress(
        self, party: str, hook_id: str, delivered_seq: int, *, failed: bool
    ) -> None:
        """Record a delivery to the hook ``hook_id``; nothing if the party has set another."""
        w = t.webhooks.c
        values: dict[str, Any] = {"updated_at": clock.iso(clock.now())}
        if failed:
            values["failures"] = w.failures + 1
        else:
            values.update(delivered_seq=delivered_seq, failures=0)
        with self._write_lock, self._writer.begin() as conn:
            conn.execute(
                update(t.webhooks).where(w.party_id == party, w.hook_id == hook_id).values(**values)
            )

    def acknowledge_alert(self, party: str, alert_id: str, at: str) -> bool:
        """Mark one of ``party``'s alerts acknowledged; False if it has no such alert."""
        a = t.alerts.c
        with self._write_lock, self._writer.begin() as conn:
            found = conn.execute(
                select(a.acknowledged_at).where(a.id == alert_id, a.party_id == party)
            ).first()
            if found is None:
                return False
            if found[0] is None:
                conn.execute(update(t.alerts).where(a.id == alert_id).values(acknowledged_at=at))
            return True

    # -- log ----------------------------------------------------------------------------------

    def log_size(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(t.log_state.c.size).where(t.log_state.c.id == 1)).scalar_one()
            )

    def entries(self, start: int, stop: int) -> list[bytes]:
        c = t.log_entries.c
        query = select(c.entry).where(c.idx >= start, c.idx < stop).order_by(c.idx)
        with self.engine.connect() as conn:
            return [bytes(row[0]) for row in conn.execute(query)]

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


def _body(compact: str) -> dict[str, Any]:
    from parley.parties.jws import Parsed

    body = Parsed(compact, stored=True).payload.get("body")
    return body if isinstance(body, dict) else {}


def _party_columns() -> list[Any]:
    c = t.parties.c
    return [c.id, c.name, c.role, c.public_key, c.created_at]


def _submission_columns() -> list[Any]:
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


def visible_to(viewer: str) -> Any:
    """The one audience check every read goes through."""
    members = exists().where(
        t.audiences.c.submission_seq == t.submissions.c.seq, t.audiences.c.party_id == viewer
    )
    return or_(t.submissions.c.audience_all, members)


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
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits instead of failing with
        # SQLITE_BUSY when another process (a CLI command, say) writes at the same time.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
