"""Compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037), payloads in JCS (RFC 8785).

A submission is signed as ``b64url(header) . b64url(JCS(document)) . b64url(signature)``.
Requiring the payload to be canonical means one document has exactly one signed form, so two
verifiers can never disagree about what was signed.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley.errors import BadRequest, ParleyError, Unprocessable
from parley.formats import jcs, strict_json
from parley.parties.keys import b64url, b64url_decode

MAX_COMPACT_LENGTH = 4 * 1024 * 1024
# base64url without padding (RFC 7515 section 2); Python's decoder would silently skip other
# characters, so a JWS with junk in it could otherwise parse.
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def canonical(document: Any) -> bytes:
    return jcs.canonical(document)  # rfc8785's bytes, without its pure-Python cost


def sign(document: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = canonical({"alg": "EdDSA", "kid": kid, "typ": "parley+jws"})
    signing_input = f"{b64url(header)}.{b64url(canonical(document))}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(key.sign(signing_input))}"


def unsecured(document: dict[str, Any], kid: str) -> str:
    """An unsecured JWS (RFC 7515 section 6) for documents authenticated by token only."""
    return f"{_unsecured_header(kid)}.{b64url(canonical(document))}."


@functools.lru_cache(maxsize=1024)
def _unsecured_header(kid: str) -> str:
    # The same for every document of a party: a TAXII envelope makes a hundred of them.
    return b64url(canonical({"alg": "none", "auth": "token", "kid": kid, "typ": "parley+jws"}))


def _decode(part: str, name: str) -> bytes:
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise BadRequest(f"the JWS {name} is not unpadded base64url (RFC 7515)")
    try:
        raw = b64url_decode(part)
    except ParleyError:
        raise BadRequest(f"the JWS {name} is not unpadded base64url (RFC 7515)") from None
    # The last character may carry spare bits the decoder ignores; without this, flipping
    # them gives a second compact form of the same signed record that still verifies.
    if b64url(raw) != part:
        raise BadRequest(f"the JWS {name} is not canonical base64url (spare bits are set)")
    return raw


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
        self.header = strict_json.loads(
            _decode(parts[0], "protected header"), what="the JWS protected header"
        )
        if not isinstance(self.header, dict):
            raise BadRequest("the JWS protected header must be a JSON object")
        self.unsecured = stored and self.header.get("alg") == "none"
        if self.header.get("alg") != "EdDSA" and not self.unsecured:
            raise Unprocessable("the JWS alg must be EdDSA (RFC 8037)")
        if "crit" in self.header:
            raise Unprocessable("no critical JWS header parameters are understood")
        self.payload_bytes = _decode(parts[1], "payload")
        self.signature = _decode(parts[2], "signature")
        self.signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        self.payload = strict_json.loads(self.payload_bytes, what="the JWS payload")
        if not isinstance(self.payload, dict):
            raise BadRequest("the JWS payload must be a JSON object")
        try:
            again = canonical(self.payload)
        except (rfc8785.CanonicalizationError, ValueError, TypeError):
            # strict_json admits only what JCS can write; this is a second line, so a gap
            # between the two can never surface as a 500 quoting the library.
            raise BadRequest(
                "the JWS payload cannot be written as canonical JSON (RFC 8785)"
            ) from None
        if again != self.payload_bytes:
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
