"""A party's endorsement of its next key: a JWS by its current key naming the new one.

Made on the party's own machine (`parley party key endorse`) and handed to the hub operator with
the new .pub.json, so that `parley party key rotate --endorsement FILE` puts in force only a key
the party itself chose while it still held the old one; the endorsement goes into the
``party-key`` entry, where every party can check it against ``previous_key``. Its kind is no kind
of submission, so it can never be admitted as one.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley import clock
from parley.errors import BadRequest, ParleyError, Unprocessable
from parley.parties import jws, keys

KIND = "key-endorsement"


def endorse(old: Ed25519PrivateKey, party: str, new: Ed25519PublicKey) -> str:
    document = {
        "kind": KIND,
        "party": party,
        "new_key": keys.public_jwk(new),
        "client_time": clock.iso(clock.now()),
    }
    return jws.sign(document, old, party)


def check(compact: str, party: str, old_x: str, new_x: str) -> None:
    """Raise unless ``compact`` is ``party``'s endorsement, by key ``old_x``, of key ``new_x``."""
    try:
        parsed = jws.Parsed(compact.strip())
    except ParleyError as exc:
        raise BadRequest(f"the endorsement is not a compact JWS: {exc.detail}") from None
    payload = parsed.payload
    if payload.get("kind") != KIND or payload.get("party") != party:
        raise BadRequest(f"this is not an endorsement of a key of party {party!r}")
    named = payload.get("new_key")
    if not isinstance(named, dict) or named.get("x") != new_x:
        raise BadRequest("the endorsement names another key than --public-key")
    try:
        parsed.verify(keys.public_key_from_raw(keys.b64url_decode(old_x)), party)
    except Unprocessable:
        raise Unprocessable(
            f"the endorsement is not signed by the key party {party!r} has now"
        ) from None
