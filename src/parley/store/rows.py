"""What the store hands out and takes in: plain frozen rows, no SQLAlchemy types."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    role: str
    public_key: str
    created_at: str
    status: str = "active"  # suspended, retired: see parley.hub.parties
    status_since: str | None = None
    token_expires_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "public_key": {"kty": "OKP", "crv": "Ed25519", "x": self.public_key},
            "created_at": self.created_at,
            "status": self.status,
            "status_since": self.status_since,
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

    @property
    def body(self) -> dict[str, Any]:
        return stored_body(self.jws)


def stored_document(compact: str) -> dict[str, Any]:
    """The signed document of a stored JWS. The hub checked the JWS on the way in (and that its
    payload is canonical), and the start-up check ties every stored JWS to its log entry, so the
    payload is read directly: the one place a stored record's document is read."""
    payload = compact.split(".", 2)[1]
    document = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return document if isinstance(document, dict) else {}


def stored_body(compact: str) -> dict[str, Any]:
    """The body of a stored document (see :func:`stored_document`)."""
    body = stored_document(compact).get("body")
    return body if isinstance(body, dict) else {}


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

    @property
    def body(self) -> dict[str, Any]:
        return stored_body(self.jws)


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
    # the log index of the hub's alert-delivery entry for it; None until one is recorded
    delivered_seq: int | None = None


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
