"""Each party's alerts: numbered per party, listed after a cursor, acknowledged."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy import true as sa_true

from parley import clock
from parley.store import schema as t
from parley.store.base import Base
from parley.store.rows import Alert, StoredConflict


class Alerts(Base):
    """A party's alert feed."""

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
                a.delivered_seq,
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
                    StoredConflict(*[*r[7:16], (party,)]) if r[7] is not None else None,
                    r[5],
                    r[6],
                    None if r[16] is None else int(r[16]),
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
            conn.execute(insert(t.alerts), number_alerts(conn, rows))

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

    def mark_delivered(self, nonces: dict[str, str], hub: str) -> None:
        """Point each alert (id -> the nonce of its delivery record) at that record's log
        index, once it is stored; an alert already marked keeps its first."""
        a = t.alerts.c
        s = t.submissions.c
        with self._write_lock, self._writer.begin() as conn:
            for alert_id, nonce in nonces.items():
                index = (
                    select(s.log_index).where(s.party_id == hub, s.nonce == nonce).scalar_subquery()
                )
                conn.execute(
                    update(t.alerts)
                    .where(a.id == alert_id, a.delivered_seq.is_(None))
                    .values(delivered_seq=index)
                )


def number_alerts(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
