"""Where each party's alerts are pushed, and how far delivery has got."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update

from parley import clock
from parley.store import schema as t
from parley.store.base import Base


class Webhooks(Base):
    """One webhook per party; progress is recorded against the hook it was for."""

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
