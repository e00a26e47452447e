"""Each item of an evidence file checked on its own, as one line of the timeline: what happened,
when (UTC), by whom, and ✓ or the exact failure. The conflicts come from the hub's signed
manifest: the hub raised them, nobody else signed them."""

from __future__ import annotations

import json
from typing import Any

from parley.client import receipts
from parley.client.evidence import (
    RECEIPT_KEYS,
    SUBMISSION_KEYS,
    Checked,
    EvidenceError,
    _b64,
    _exact,
    check_checkpoint,
    party_key,
)
from parley.client.receipts_text import notified
from parley.errors import ParleyError
from parley.log import note
from parley.log.policy import Policy
from parley.parties import jws

NOTIFIED = {
    "site": "notified",
    "movement": "notified",
    "operation": "notified",
    "incident": "reported",
}


def items(
    data: dict[str, Any],
    manifest: dict[str, Any],
    log_key: str,
    policy: Policy | None,
    witnesses: list[Any],
    roots: dict[int, bytes],
    checks: list[Checked],
) -> list[Checked]:
    """The timeline: every item and conflict, checked, in time order (log order on a tie).
    Items the manifest lists and the file lacks, or holds unlisted, go to ``checks``."""
    verifier = note.Verifier.from_key(log_key)
    given = data["items"] if isinstance(data["items"], list) else []
    by_id: dict[str, dict[str, Any]] = {}
    for receipt in given:
        sub = receipt.get("submission") if isinstance(receipt, dict) else None
        found = sub.get("id") if isinstance(sub, dict) else None
        by_id[str(found)] = receipt
    listed = [i for i in manifest["items"] if isinstance(i, dict)]
    timeline: list[tuple[str, int, Checked]] = []
    for n, item in enumerate(listed, 1):
        label = f"item {n} ({item.get('role')}: {item.get('kind')} {item.get('id')})"
        receipt = by_id.pop(str(item.get("id")), None)
        if receipt is None:
            checks.append(
                Checked(label, False, "listed by the hub's manifest, missing from the file")
            )
            continue
        checked = _item(receipt, item, label, manifest, verifier, log_key, policy, witnesses, roots)
        timeline.append((checked.at or "", int(item.get("index", -1)), checked))
    for extra in by_id:
        checks.append(Checked(f"item {extra}", False, "in the file but not in the hub's manifest"))
    if len(given) != len(listed):
        checks.append(
            Checked("the items", False, f"the file holds {len(given)}, the manifest {len(listed)}")
        )
    for conflict in manifest["conflicts"]:
        c = conflict if isinstance(conflict, dict) else {}
        sides = ", ".join(f"{role} {c[role]}" for role in _SIDES if c.get(role))
        event = (
            f"the hub raised conflict {c.get('id')} ({c.get('kind')}, {c.get('severity')}): "
            f"{c.get('detail')}" + (f" [{sides}]" if sides else "")
        )
        details = [f"distance {c['distance_m']} m"] if c.get("distance_m") is not None else []
        details.append("signed by the hub in the manifest; conflicts are not log entries")
        timeline.append(
            (
                str(c.get("created_at")),
                2**62,  # after the records logged at the same instant: it follows them
                Checked(
                    f"conflict {c.get('id')}",
                    True,
                    at=c.get("created_at"),
                    event=event,
                    details=details,
                    data={"conflict": c},
                ),
            )
        )
    timeline.sort(key=lambda t: (t[0], t[1]))
    return [t[2] for t in timeline]


_SIDES = ("operation", "site", "area", "movement", "other_operation")


def _item(
    receipt: dict[str, Any],
    item: dict[str, Any],
    label: str,
    manifest: dict[str, Any],
    verifier: note.Verifier,
    log_key: str,
    policy: Policy | None,
    witnesses: list[Any],
    roots: dict[int, bytes],
) -> Checked:
    try:
        _exact(receipt, RECEIPT_KEYS, "its receipt")
        sub = _exact(receipt["submission"], SUBMISSION_KEYS, "its receipt's submission")
        party = str(sub["party"])
        number = label.split(" ", 2)[1]
        label = f"item {number} ({item.get('role')}: {sub['kind']} {sub['id']} by {party})"
        key = verifier.public_key if party == "hub" else party_key(manifest, party)
        proven = receipts.verify(receipt, log_key, key, policy)
        checkpoint, _ = check_checkpoint(str(receipt["checkpoint"]), verifier, witnesses, policy)
        payload = jws.Parsed(str(sub["jws"]), stored=True).payload
        entry = json.loads(_b64(receipt["entry"], "its entry"))
        problems = [
            (receipt["index"] != item.get("index"), "its log index differs from the manifest's"),
            (receipt["origin"] != verifier.name, "its origin is not the log's"),
            (receipt["tree_size"] != checkpoint.size, "its tree size is not its checkpoint's"),
            (
                not sub["kind"] == payload.get("kind") == item.get("kind"),
                "its kind differs between receipt, signed record and manifest",
            ),
            (sub["party"] != payload.get("party"), "its party is not the signer named inside"),
            (sub["received_at"] != proven["received_at"], "its time is not the logged one"),
            (
                "jws_sha256" in entry
                and (
                    sub["salt"] is not None
                    or entry.get("kind") != sub["kind"]
                    or entry.get("party") != party
                ),
                "its public log entry disagrees with the receipt",
            ),
        ]
        for bad, why in problems:
            if bad:
                raise EvidenceError(why)
        if roots.get(checkpoint.size) != checkpoint.root:
            raise EvidenceError(
                f"no consistency proof links its checkpoint (size {checkpoint.size}) to the "
                "latest one"
            )
    except (ParleyError, ValueError, KeyError, TypeError) as exc:
        why = exc.detail if isinstance(exc, ParleyError) else f"malformed ({exc})"
        return Checked(label, False, why, at=_time(receipt))
    return _event(label, receipt, payload, item, proven)


def _time(receipt: object) -> str | None:
    if isinstance(receipt, dict) and isinstance(receipt.get("submission"), dict):
        found = receipt["submission"].get("received_at")
        return str(found) if found is not None else None
    return None


def _event(
    label: str,
    receipt: dict[str, Any],
    payload: dict[str, Any],
    item: dict[str, Any],
    proven: dict[str, Any],
) -> Checked:
    kind = str(payload.get("kind"))
    party = str(payload.get("party"))
    found = payload.get("body")
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    at = str(proven["received_at"])
    record = item.get("id")
    details: list[str] = [f"log entry {proven['index']} of tree size {proven['tree_size']}"]
    data: dict[str, Any] = {"kind": kind, "party": party, "role": item.get("role")}
    if kind in NOTIFIED:
        what, lines = notified(receipt)
        data["notified"] = what
        data["body"] = body
        name = f' "{body["name"]}"' if isinstance(body.get("name"), str) else ""
        verb = "amended it as" if item.get("role") == "amendment" else NOTIFIED[kind]
        event = f"{party} {verb} {kind}{name} {record}"
        # the receipt's own audience line would repeat the one every item ends with
        details = [x for x in lines[1:] if not x.startswith("audience: ")] + details
    elif kind == "acknowledgement":
        event = f"{party} acknowledged {body.get('record')}"
    elif kind == "withdrawal":
        event = f"{party} withdrew {body.get('record')}"
    elif kind == "operation-status":
        event = f"{party} set operation {body.get('operation')} to {body.get('status')}"
    elif kind == "resolution":
        event = f"{party} resolved conflict {body.get('conflict')}: {body.get('outcome')}"
    elif kind == "alert-acknowledgement":
        event = f"{party} acknowledged alert {body.get('alert')} (conflict {body.get('conflict')})"
    elif kind == "alert-delivery":
        event = f"the hub delivered alert {body.get('alert')} to {body.get('party')}"
        if isinstance(body.get("delivered_at"), str):
            at = body["delivered_at"]
            details.insert(0, f"logged {proven['received_at']}")
    else:
        event = f"{party} submitted {kind} {record}"
    audience = payload.get("audience")
    details.append(
        "audience: " + ("all parties" if audience == "all" else ", ".join(map(str, audience or [])))
    )
    return Checked(label, True, at=at, event=event, details=details, data=data)
