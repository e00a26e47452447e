"""Accepting a signed submission: every check a party's document must pass before it is logged.

The document inside the JWS is::

    {"kind": "site", "party": "unhas", "client_time": "2026-11-25T21:00:00Z",
     "nonce": "…16+ chars…", "audience": "all" | ["party-a", "party-b"], "body": {...}}

Checks, in order: the JWS parses and its payload is canonical; the signature verifies with the key
of the party the bearer token belongs to; the document names that same party; the kind is known
and the party's role may submit it; the audience is "all" or a list of registered parties; the
client time is within the allowed skew; the body matches its kind's JSON Schema
(parley.records.schemas). Nonce replay is refused at storage, in the transaction.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley import clock
from parley.errors import Forbidden, InvalidSubmission, Unprocessable
from parley.parties import jws, roles
from parley.parties.keys import b64url_decode, public_key_from_raw
from parley.records import schemas
from parley.store.db import NewSubmission, Party

ENTRY_VERSION = 1


@dataclass(frozen=True)
class Checked:
    """A submission that passed every check but the nonce, ready to store."""

    record: NewSubmission
    document: dict[str, Any]


def check(
    compact: str,
    party: Party,
    is_party: Callable[[str], bool],
    received: datetime,
    max_skew_s: float,
) -> Checked:
    parsed = jws.Parsed(compact)
    kid = parsed.header.get("kid")
    if kid is not None and kid != party.id:
        raise Forbidden(f"the JWS is signed as {kid!r} but the token belongs to {party.id!r}")
    parsed.verify(public_key_from_raw(b64url_decode(party.public_key)), party.id)
    return admit(parsed.payload, compact, party, is_party, received, max_skew_s)


def admit(
    doc: dict[str, Any],
    compact: str,
    party: Party,
    is_party: Callable[[str], bool],
    received: datetime,
    max_skew_s: float,
) -> Checked:
    """Every check on the document itself, however its author was authenticated."""
    if doc.get("party") != party.id:
        raise Forbidden(f"the document names party {doc.get('party')!r}, not {party.id!r}")
    kind = _kind(doc, party)
    audience = _audience(doc.get("audience"), party, is_party)
    client_time = clock.parse(doc.get("client_time"), "client_time")
    skew = abs((received - client_time).total_seconds())
    if skew > max_skew_s:
        raise Unprocessable(
            f"client_time is {skew:.0f} s away from the hub's clock; at most {max_skew_s:.0f} s "
            "is accepted (check the sending machine's clock)",
            field="client_time",
        )
    nonce = doc.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
        raise InvalidSubmission("nonce must be a string of 16 to 128 characters", field="nonce")
    if not isinstance(doc.get("body"), dict):
        raise InvalidSubmission("body must be a JSON object", field="body")
    # The kind's JSON Schema, the one published at /schemas/{kind}.json, before its rules.
    schemas.check(kind, doc["body"])
    record_id = str(uuid.uuid4())
    received_at = clock.iso(received)
    salt = None if audience is None else secrets.token_hex(32)
    entry = log_entry(record_id, kind, party.id, received_at, compact, salt)
    record = NewSubmission(
        id=record_id,
        kind=kind,
        party_id=party.id,
        nonce=nonce,
        client_time=clock.iso(client_time),
        received_at=received_at,
        audience=audience,
        jws=compact,
        salt=salt,
        entry=entry,
    )
    return Checked(record, doc)


def _kind(doc: dict[str, Any], party: Party) -> str:
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in roles.KINDS:
        raise InvalidSubmission(
            f"kind must be one of {', '.join(sorted(roles.KINDS))}, not {kind!r}", field="kind"
        )
    if not roles.may_submit(party.role, kind):
        allowed = sorted(roles.ALLOWED[roles.Role(party.role)])
        raise Forbidden(f"a {party.role} may submit {allowed}, not {kind!r}", field="kind")
    return kind


def _audience(
    value: object, party: Party, is_party: Callable[[str], bool]
) -> tuple[str, ...] | None:
    """None for every party; otherwise the named parties, the author always among them."""
    if value == "all":
        return None
    if value is None:
        raise InvalidSubmission(
            'audience is required: "all" or a list of party ids', field="audience"
        )
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        # An empty list is refused rather than read as "everyone" or "no one": both readings
        # have leaked records on other platforms.
        raise InvalidSubmission(
            'audience must be "all" or a non-empty list of party ids', field="audience"
        )
    unknown = sorted({p for p in value if not is_party(p)})
    if unknown:
        raise Unprocessable(
            f"audience names unknown parties: {', '.join(unknown)}", field="audience"
        )
    return tuple(sorted(set(value) | {party.id}))


def log_entry(
    record_id: str, kind: str, party: str, received_at: str, compact: str, salt: str | None
) -> bytes:
    """The bytes the log commits to (docs/entries.md).

    A record for every party commits to the SHA-256 of its exact signed bytes, with its id,
    kind and author in the clear. A restricted record commits only to a salted digest and the
    time: the log shows that something was notified then, and nothing else.
    """
    if salt is None:
        document: dict[str, Any] = {
            "v": ENTRY_VERSION,
            "id": record_id,
            "kind": kind,
            "party": party,
            "received_at": received_at,
            "jws_sha256": hashlib.sha256(compact.encode("ascii")).hexdigest(),
        }
    else:
        digest = hashlib.sha256(bytes.fromhex(salt) + compact.encode("ascii")).hexdigest()
        document = {"v": ENTRY_VERSION, "received_at": received_at, "commitment": digest}
    return jws.canonical(document)


def token_authenticated(
    kind: str,
    party: Party,
    body: dict[str, Any],
    audience: str | list[str],
    is_party: Callable[[str], bool],
    received: datetime,
) -> Checked:
    """A document that arrived with only a bearer token (TAXII clients cannot sign).

    It is recorded as an unsecured JWS (RFC 7515 section 6, ``alg: none``) whose header says
    ``"auth": "token"``, so it is logged and receipted like any other, and nobody can mistake
    it for a document the party signed.
    """
    doc = {
        "kind": kind,
        "party": party.id,
        "client_time": clock.iso(received),
        "nonce": clock.ordered_nonce(),
        "audience": audience,
        "body": body,
    }
    return admit(doc, jws.unsecured(doc, party.id), party, is_party, received, 0)


@dataclass
class Accepted:
    record: NewSubmission
    index: int
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    related: dict[str, Any] | None = None

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "sequence": self.index,
            "kind": self.record.kind,
            "received_at": self.record.received_at,
            "entry": base64.b64encode(self.record.entry).decode("ascii"),
            "receipt": f"/api/v1/submissions/{self.record.id}/receipt",
            "conflicts": self.conflicts,
            "flags": self.flags,
            **({"related": self.related} if self.related is not None else {}),
        }
