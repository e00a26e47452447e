"""Conflicts found between records, each stored with an alert for every party it concerns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, select

from parley.store import schema as t
from parley.store.alerts import number_alerts
from parley.store.base import Base
from parley.store.rows import StoredConflict


class Conflicts(Base):
    """Writing conflicts (and their alerts); who a conflict alerted."""

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
                conn.execute(insert(t.alerts), number_alerts(conn, rows))

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

    def conflict_counts(self) -> dict[str, int]:
        """How many conflicts of each kind are stored (for the demo's summary)."""
        c = t.conflicts.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.kind, func.count()).group_by(c.kind)).all()
        return {str(kind): int(n) for kind, n in rows}
