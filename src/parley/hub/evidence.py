"""Evidence about one record: every signed submission about it that the caller may see, with a
receipt for each, the proofs linking their checkpoints to the latest one, and a manifest the hub
signs so nothing can be dropped from the file unnoticed. The layout and the offline check are in
:mod:`parley.client.evidence`; docs/evidence.md says what the file proves.

Every read goes through the store's audience-checked reads as the caller: a record the caller
may not see is neither included nor counted, and evidence about such a record is refused with
the answer a missing record gets.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from parley import clock
from parley.client.evidence import FORMAT, MANIFEST_KIND, SUBJECT_KINDS
from parley.errors import NotFound
from parley.parties import jws, keys
from parley.store.db import Party, Submission

if TYPE_CHECKING:
    from parley.hub.core import Hub

# Kinds that point at another record, and the body fields that do.
REFERRERS: dict[str, tuple[str, ...]] = {
    "acknowledgement": ("record",),
    "withdrawal": ("record",),
    "operation-status": ("operation",),
    "review": ("incident",),
    "resolution": ("conflict",),
    "alert-acknowledgement": ("alert", "conflict"),
    "alert-delivery": ("alert",),
}
PAGE = 1000
MAX_ITEMS = 10_000


def missing(record_id: str) -> NotFound:
    # One message for a record that does not exist, one the caller may not see, and one of a
    # kind evidence is not given about: the answer must not tell them apart.
    return NotFound(f"no site, movement, operation or incident {record_id!r} you may see")


def _visible(hub: Hub, viewer: str, kind: str) -> Iterator[Submission]:
    after = -1
    while True:
        page = hub.store.list_submissions(viewer, after=after, limit=PAGE, kind=kind)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].log_index


def collect(
    hub: Hub, viewer: Party, record_id: str
) -> tuple[list[tuple[str, Submission]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The submissions about ``record_id`` that ``viewer`` may see, each with its role, in log
    order; the conflicts about them that alerted ``viewer``, as it may see them; its alerts."""
    subject = hub.store.get_submission(record_id, viewer.id)
    if subject is None or subject.kind not in SUBJECT_KINDS:
        raise missing(record_id)
    found: dict[str, tuple[str, Submission]] = {subject.id: ("record", subject)}
    # What the subject amends, and what amends it, however long the chain.
    back = subject.body.get("supersedes")
    while isinstance(back, str) and back not in found:
        earlier = hub.store.get_submission(back, viewer.id)
        if earlier is None or earlier.kind != subject.kind:
            break
        found[earlier.id] = ("amended", earlier)
        back = earlier.body.get("supersedes")
    for sub in _visible(hub, viewer.id, subject.kind):
        if sub.id not in found and sub.body.get("supersedes") in found:
            found[sub.id] = ("amendment", sub)
    chain = set(found)
    hub.screening.refresh()
    conflicts: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for alert in hub.store.alerts_for(viewer.id, 0, MAX_ITEMS, conflicts_only=True):
        conflict = alert.conflict
        if conflict is None or not {conflict.a_id, conflict.b_id} & chain:
            continue
        view = hub.screening.view(conflict, viewer.id, alert.acknowledged_at is not None)
        if all(view["id"] != c["id"] for c in conflicts):
            conflicts.append(view)
        alerts.append(
            {
                "id": alert.id,
                "party": viewer.id,
                "conflict": conflict.id,
                "created_at": alert.created_at,
            }
        )
        for other in (conflict.a_id, conflict.b_id):
            if other in found:
                continue
            met = hub.store.get_submission(other, viewer.id)
            if met is not None:
                found[met.id] = ("met", met)
    wanted = set(found) | {c["id"] for c in conflicts} | {a["id"] for a in alerts}
    for kind, fields in REFERRERS.items():
        for sub in _visible(hub, viewer.id, kind):
            body = sub.body
            if sub.id in found or not any(body.get(f) in wanted for f in fields):
                continue
            found[sub.id] = (kind, sub)
            # An alert acknowledged by another party the viewer may see: its delivery too.
            if isinstance(body.get("alert"), str):
                wanted.add(body["alert"])
            if len(found) > MAX_ITEMS:
                raise NotFound(f"more than {MAX_ITEMS} records concern {record_id!r}")
    ordered = sorted(found.values(), key=lambda pair: pair[1].log_index)
    return ordered, conflicts, alerts


def _covered(hub: Hub, index: int) -> None:
    """Publish a checkpoint now if none covers ``index`` yet, rather than wait for the next."""
    if hub.log.published_size() <= index:
        latest = hub.store.latest_checkpoint()
        if latest is None or latest[0] <= index:
            hub.log.publish()


def build(hub: Hub, viewer: Party, record_id: str, known: Iterable[int] = ()) -> dict[str, Any]:
    """The evidence file about ``record_id`` as ``viewer`` may see it; ``known``: sizes of
    checkpoints the viewer saved, to be linked to the latest one by consistency proofs."""
    items, conflicts, alerts = collect(hub, viewer, record_id)
    _covered(hub, max(sub.log_index for _, sub in items))
    receipts: list[dict[str, Any]] = []
    for _, sub in items:
        receipt = hub.log.receipt(sub)
        if receipt is None:  # published above; only a concurrent rollback could get here
            raise NotFound(f"no signed checkpoint covers {sub.id} yet; retry")
        receipts.append(receipt)
    size, latest = hub.log.checkpoint()
    sizes = {int(r["tree_size"]) for r in receipts} | {k for k in known if 0 < k <= size}
    consistency = [
        {
            "from": old,
            "old_root": _b64(hub.log.root(old)),
            "to": size,
            "proof": [_b64(h) for h in hub.log.consistency(old, size)],
        }
        for old in sorted(sizes)
        if old < size
    ]
    every = hub.parties()
    named = sorted(
        {sub.party_id for _, sub in items}
        | {viewer.id}
        | {a["party"] for a in alerts}
        | {m for _, sub in items for m in (hub.store.audience_of(sub.id) or ())}
        # The members told about the subject, so the file shows who did not acknowledge it.
        | {p.id for p in every.values() if p.role == "member" and items_audience(hub, record_id)}
    )
    manifest = {
        "format": FORMAT,
        "subject": record_id,
        "made_for": viewer.id,
        "made_at": clock.iso(clock.now()),
        "origin": hub.log.origin,
        "items": [
            {"role": role, "id": sub.id, "index": sub.log_index, "kind": sub.kind}
            for role, sub in items
        ],
        "conflicts": conflicts,
        "alerts": alerts,
        "parties": [
            {
                "id": p,
                "name": every[p].name,
                "role": every[p].role,
                "public_key": every[p].public_key,
            }
            for p in named
            if p in every
        ],
        "latest_size": size,
        "proofs": [p["from"] for p in consistency],
        "witnesses": [w.split()[-1] for w in hub.settings.witnesses],
    }
    document = {"kind": MANIFEST_KIND, "party": "hub", "body": manifest}
    signed = jws.sign(document, keys.load_private_key(hub.settings.hub_key_path), "hub")
    return {
        "format": FORMAT,
        "manifest": signed,
        "items": receipts,
        "checkpoint": latest,
        "consistency": consistency,
    }


def items_audience(hub: Hub, record_id: str) -> bool:
    """Whether every party may see the record (its members are then all named)."""
    return hub.store.audience_of(record_id) is None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
