"""``next`` values: sealed, so they can be neither read nor forged.

A ``next`` value names a position in one page sequence: the party that was given it, the
collection and endpoint, the filters, and the last row served. It is encrypted and authenticated
(AES-GCM) under a key derived from the hub's private key, so every process of one hub accepts the
others' values, and no party can turn one into a read of another collection, another object, other
filters or another party's view (each query applies the audience check regardless). Whatever is
wrong with a ``next`` value, the answer is the same.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.errors import BadRequest
from parley.parties.keys import b64url

_INFO = b"parley taxii next v1"


@dataclass(frozen=True)
class Scope:
    """What a ``next`` value is valid for."""

    party: str
    collection: str
    endpoint: str  # "objects", "manifest", "object:<stix id>", "versions:<stix id>"
    fingerprint: str


class Cursors:
    def __init__(self, hub_key: Ed25519PrivateKey) -> None:
        secret = hub_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, scope: Scope, position: int) -> str:
        plain = json.dumps(
            [scope.party, scope.collection, scope.endpoint, scope.fingerprint, position],
            separators=(",", ":"),
        ).encode()
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, plain, _INFO)
        return b64url(sealed)

    def open(self, value: str, scope: Scope) -> int:
        """The position after which the next page starts; refuses any value not made for
        exactly this scope, with one answer for every reason."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            # The decoder skips characters outside the alphabet and ignores spare bits: only
            # the one spelling this server wrote is its value.
            if b64url(raw) != value:
                raise ValueError(value)
            plain = self._aead.decrypt(raw[:12], raw[12:], _INFO)
            party, collection, endpoint, fingerprint, position = json.loads(plain)
        except (ValueError, InvalidTag, TypeError):
            raise _invalid() from None
        if Scope(party, collection, endpoint, fingerprint) != scope or not isinstance(
            position, int
        ):
            raise _invalid()
        return position


def _invalid() -> BadRequest:
    return BadRequest(
        "next is not a value this server gave for this request: repeat the request that "
        "returned it, with the same filters"
    )
