"""Records the hub makes itself, logged like every party's so every party sees them.

The hub appears in the parties table as ``hub``, with its log key as public key and no token, so
no request can ever authenticate as it. Its records are ordinary submissions signed with that key:
they get a log entry, a receipt and the start-up integrity check like any other. The JWS signing
input is one line of base64url and dots, and a signed note always has several lines, so a
signature over one can never be taken for the other.

Kinds: ``hub-region`` (the area the hub serves; docs/workflows.md) and ``alert-delivery`` (the
first time an alert reached its party; restricted to that party, so the public log holds only
its commitment; docs/entries.md), and a party's lifecycle: ``party-added``, ``party-status``,
``party-key`` and ``party-token`` (parley.hub.parties).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.geo.region import Region
from parley.hub.admission import log_entry
from parley.parties import jws
from parley.parties.keys import b64url, public_raw
from parley.store.db import NewSubmission, Party, Store, Submission

HUB = "hub"
ROLE = "hub"
REGION = "hub-region"
DELIVERY = "alert-delivery"
# A party's lifecycle (parley.hub.parties): its arrival, its status, its key, a new token (never
# the token)
PARTY_ADDED = "party-added"
PARTY_STATUS = "party-status"
PARTY_KEY = "party-key"
PARTY_TOKEN = "party-token"
KINDS = frozenset({REGION, DELIVERY, PARTY_ADDED, PARTY_STATUS, PARTY_KEY, PARTY_TOKEN})


def ensure_hub_party(store: Store, key: Ed25519PrivateKey) -> None:
    public = b64url(public_raw(key.public_key()))
    if any(p.id == HUB for p in store.parties()):
        return
    # A digest no token can have (tokens hash to 64 hex digits): nobody can sign in as the hub.
    unusable = "hub-" + secrets.token_hex(16)
    store.add_party(Party(HUB, "the hub itself", ROLE, public, clock.iso(clock.now())), unusable)


def record(
    key: Ed25519PrivateKey,
    kind: str,
    body: dict[str, Any],
    audience: Sequence[str] | None = None,
    nonce: str | None = None,
) -> NewSubmission:
    """A hub record, signed and ready for the store: for every party, or for ``audience``
    (stored, as a party's would be, with its author among it)."""
    now = clock.now()
    nonce = nonce or secrets.token_hex(16)
    document: dict[str, Any] = {
        "kind": kind,
        "party": HUB,
        "client_time": clock.iso(now),
        "nonce": nonce,
        "audience": "all" if audience is None else list(audience),
        "body": body,
    }
    compact = jws.sign(document, key, HUB)
    record_id = str(uuid.uuid4())
    received_at = clock.iso(now)
    salt = None if audience is None else secrets.token_hex(32)
    return NewSubmission(
        id=record_id,
        kind=kind,
        party_id=HUB,
        nonce=nonce,
        client_time=received_at,
        received_at=received_at,
        audience=None if audience is None else tuple(sorted({HUB, *audience})),
        jws=compact,
        salt=salt,
        entry=log_entry(record_id, kind, HUB, received_at, compact, salt),
    )


def delivery_nonce(alert_id: str) -> str:
    """One per alert: the store refuses a second delivery record for an alert (a replayed
    nonce) in the inserting transaction, whichever process makes it."""
    return f"{DELIVERY}:{alert_id}"


def delivery_record(
    key: Ed25519PrivateKey, alert_id: str, party: str, delivered_at: str
) -> NewSubmission:
    """The first delivery of an alert: its id, its party and the time, nothing else of it."""
    body = {"alert": alert_id, "party": party, "delivered_at": delivered_at}
    return record(key, DELIVERY, body, audience=[party], nonce=delivery_nonce(alert_id))


def region_record(key: Ed25519PrivateKey, region: Region | None) -> NewSubmission:
    body: dict[str, Any] = {"region": None if region is None else region.to_geojson()}
    return record(key, REGION, body)


def region_of(submission: Submission | None) -> Region | None:
    if submission is None:
        return None
    feature = submission.body.get("region")
    if not feature:
        return None
    return Region.from_geojson(
        json.dumps(feature["geometry"]),
        float(feature["properties"].get("margin_m", 0)),
        str(feature["properties"].get("name") or "unnamed"),
    )
