"""What the store hands out and takes in: plain frozen rows, no SQLAlchemy types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
