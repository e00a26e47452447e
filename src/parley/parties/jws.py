"""Compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037), payloads in JCS (RFC 8785).

A submission is signed as ``b64url(header) . b64url(JCS(document)) . b64url(signature)``.
Requiring the payload to be canonical means one document has exactly one signed form, so two
verifiers can never disagree about what was signed.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley.errors import BadRequest, InvalidJSON, Unprocessable
from parley.parties.keys import b64url, b64url_decode

MAX_COMPACT_LENGTH = 4 * 1024 * 1024


def canonical(document: Any) -> bytes:
    return rfc8785.dumps(document)


def sign(document: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = canonical({"alg": "EdDSA", "kid": kid, "typ": "parley+jws"})
    signing_input = f"{b64url(header)}.{b64url(canonical(document))}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(key.sign(signing_input))}"


def unsecured(document: dict[str, Any], kid: str) -> str:
    """An unsecured JWS (RFC 7515 section 6) for documents authenticated by token only."""
    header = canonical({"alg": "none", "auth": "token", "kid": kid, "typ": "parley+jws"})
    return f"{b64url(header)}.{b64url(canonical(document))}."


class Parsed:
    """A compact JWS split into its parts, not yet verified."""

    __slots__ = ("header", "payload", "payload_bytes", "signature", "signing_input", "unsecured")

    def __init__(self, compact: str, *, stored: bool = False) -> None:
        """``stored`` admits the hub's own token-authenticated records (``alg: none``);
        a party can never submit one."""
        if not isinstance(compact, str) or len(compact) > MAX_COMPACT_LENGTH:
            raise BadRequest("a submission is a compact JWS string")
        parts = compact.split(".")
        if len(parts) != 3:
            raise BadRequest("a compact JWS has three dot-separated parts")
        try:
            self.header = json.loads(b64url_decode(parts[0]))
        except ValueError:
            raise InvalidJSON("the JWS protected header is not JSON") from None
        if not isinstance(self.header, dict):
            raise BadRequest("the JWS protected header must be a JSON object")
        self.unsecured = stored and self.header.get("alg") == "none"
        if self.header.get("alg") != "EdDSA" and not self.unsecured:
            raise Unprocessable("the JWS alg must be EdDSA (RFC 8037)")
        if "crit" in self.header:
            raise Unprocessable("no critical JWS header parameters are understood")
        self.payload_bytes = b64url_decode(parts[1])
        self.signature = b64url_decode(parts[2])
        self.signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        try:
            self.payload = json.loads(self.payload_bytes)
        except ValueError:
            raise InvalidJSON("the JWS payload is not JSON") from None
        if not isinstance(self.payload, dict):
            raise BadRequest("the JWS payload must be a JSON object")
        if canonical(self.payload) != self.payload_bytes:
            raise BadRequest("the JWS payload must be canonical JSON (RFC 8785, JCS)")

    def verify(self, key: Ed25519PublicKey, party: str) -> None:
        if self.unsecured:
            raise Unprocessable(f"this record was authenticated by {party!r}'s token, not signed")
        try:
            key.verify(self.signature, self.signing_input)
        except InvalidSignature:
            raise Unprocessable(
                f"the signature does not verify with the registered key of party {party!r}"
            ) from None
