"""Alerts that come from time passing, not from a submission: reminders of receipts still owed
and notice that a site or movement has expired. Each is raised once per party and record."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from parley import clock
from parley.hub.acknowledgements import unacknowledged

if TYPE_CHECKING:
    from parley.hub.context import Context

log = logging.getLogger("parley.hub.housekeeping")


def remind(ctx: Context, after: timedelta) -> int:
    """Alert each member once about every site it has left unacknowledged for ``after``."""
    raised = 0
    for member in [p.id for p in ctx.store.parties() if p.role == "member"]:
        done = ctx.store.alert_subjects(member, "reminder")
        due = [
            item
            for item in unacknowledged(ctx, member, member)
            if item["age_s"] >= after.total_seconds() and item["id"] not in done
        ]
        for item in due:
            hours = item["age_s"] / 3600
            ctx.store.add_alerts(
                "reminder",
                item["id"],
                f"you have not acknowledged receiving site {item['id']} from {item['party']}, "
                f"notified {hours:.0f} h ago",
                [member],
            )
        raised += len(due)
    return raised


def expire(ctx: Context, now: datetime) -> int:
    """Tell every member that can see it that a site or movement is no longer valid."""
    raised = 0
    members = {p.id for p in ctx.store.parties() if p.role == "member"}
    for sub in ctx.store.iter_submissions(("site", "movement")):
        body = sub.body
        end = (body.get("valid") or body.get("time") or {}).get("end")
        if not end or clock.parse(end) > now:
            continue
        holder = ctx.screening.holders.get(sub.id)
        audience = (
            members
            if holder is None or holder.audience is None
            else (members & set(holder.audience))
        )
        told = sorted(
            p
            for p in audience - {sub.party_id}
            if sub.id not in ctx.store.alert_subjects(p, "expired")
        )
        ctx.store.add_alerts("expired", sub.id, f"{sub.kind} {sub.id} expired at {end}", told)
        raised += len(told)
    return raised


class Housekeeping:
    def __init__(
        self,
        ctx: Context,
        listeners: Sequence[Callable[[], None]],
        interval_s: float,
        remind_after: timedelta,
    ) -> None:
        self.ctx = ctx
        self.listeners = listeners
        self.interval_s = interval_s
        self.remind_after = remind_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-housekeeping", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> int:
        raised = remind(self.ctx, self.remind_after) + expire(self.ctx, clock.now())
        if raised:
            for listener in self.listeners:
                listener()
        return raised

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # the next round retries
                log.exception("housekeeping round failed")
