"""Signed alert acknowledgements (kind ``alert-acknowledgement``, docs/entries.md).

An alert is known only to the party it was sent to, so only that party acknowledges it, and
any other party asking about it gets the answer a missing alert gets. The body names the alert
and, for an alert about a conflict, that conflict::

    {"alert": "<alert id>", "conflict": "<conflict id>"}

The record tells its audience that the alert, and its conflict, exist: its audience is the
acknowledging party alone by default and at most the conflict's (the parties it alerted), by the
one referring-record rule (parley.records.audiences). An alert about a record rather than a
conflict (a withdrawal, an incident nearby) was told to its party alone, so is its
acknowledgement.

Acknowledging twice is refused (409): the first signed record is the acknowledgement, and a
second one, signed later, would put a second, later time for the same act on the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parley.errors import Conflict, NotFound, Unprocessable
from parley.records import audiences
from parley.store.db import Alert, NewSubmission, Party, Store

KIND = "alert-acknowledgement"


def check(store: Store, party: Party, body: dict[str, Any], audience: Sequence[str] | None) -> None:
    """Refuse an acknowledgement ``party`` may not make, storing nothing."""
    alert = _own_alert(store, party, body.get("alert"))
    named = body.get("conflict")
    if alert.conflict is None:
        if named is not None:
            raise Unprocessable(f"alert {alert.id} is not about a conflict", field="body.conflict")
        audiences.require_within(
            audience,
            {party.id},
            what="alert acknowledgement",
            subject_name="alert",
            refers="body.alert",
        )
    else:
        if named != alert.conflict.id:
            raise Unprocessable(
                f"alert {alert.id} is about conflict {alert.conflict.id}: name it in body.conflict",
                field="body.conflict",
            )
        # A conflict is known only to the parties it alerted: that is its audience.
        audiences.require_within(
            audience,
            store.conflict_audience(alert.conflict.id),
            what="alert acknowledgement",
            subject_name="conflict",
            refers="body.conflict",
        )
    if alert.acknowledged_at is not None:
        raise Conflict(
            f"you already acknowledged alert {alert.id} at {alert.acknowledged_at}",
            field="body.alert",
        )


def _own_alert(store: Store, party: Party, alert_id: object) -> Alert:
    found = store.alerts_for(party.id, alert_id=alert_id) if isinstance(alert_id, str) else []
    if not found:
        # The same answer for an alert that does not exist and another party's.
        raise NotFound(f"no alert {alert_id!r}", field="body.alert")
    return found[0]


def mark(store: Store, record: NewSubmission) -> None:
    """After the commit: the alert is acknowledged as of the record's arrival, so the alert's
    time and the logged one are the same."""
    body = record.body
    store.acknowledge_alert(record.party_id, str(body["alert"]), record.received_at)
