"""A party's life after registration: suspension, resumption, retirement, token and key
rotation, and the refusals that follow from them.

Each change is made in the parties table first, so it holds from that moment, then recorded as
a hub entry in the log for every party to see (docs/entries.md):

- ``party-added``: ``{"party", "name", "role", "public_key": JWK, "key_thumbprint",
  "added_at", "token_expires_at"}``; the token never
- ``party-status``: ``{"party", "status": "active"|"suspended"|"retired", "previous", "since"}``
- ``party-token``: ``{"party", "rotated_at", "expires_at"}``; the token itself never
- ``party-key``: ``{"party", "public_key": JWK, "previous_key": JWK, "valid_from",
  "endorsement"}``, the last the party's JWS by its previous key naming the new one, or null

A running hub is another process: it learns of a change from the data directory's stamp file,
which every change here replaces (a new inode) and which the hub stats on each authentication
(about a microsecond); the hub also drops its token cache every ``PARTIES_TTL_S`` seconds, which
bounds how long a change made from another machine's data directory takes to apply.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley import clock
from parley.config import Settings
from parley.errors import BadRequest, Conflict, Forbidden, NotFound, ParleyError, Unauthorized
from parley.hub import hubrecords
from parley.hub.setup import hub_key, open_store
from parley.parties import endorsement, jws, keys, tokens
from parley.store.db import Party, Store
from parley.store.parties import PartyKey

ACTIVE, SUSPENDED, RETIRED = "active", "suspended", "retired"
STAMP = "parties.stamp"
PARTIES_TTL_S = 5.0
# A new key comes into force this long after `key rotate`, so every hub process on the database
# has read it by then and picks the key by the time it receives a record: a record is always
# checked against the key a verifier will find in force at its received_at.
KEY_GRACE_S = PARTIES_TTL_S + 1.0
# each status, from the statuses a party may reach it from; retirement is final
MOVES = {
    SUSPENDED: {ACTIVE},
    ACTIVE: {SUSPENDED},
    RETIRED: {ACTIVE, SUSPENDED},
}


# -- what a hub refuses --------------------------------------------------------------------------


def refuse_barred(party: Party) -> None:
    """Raise unless the party may act now: active, with a token that has not expired."""
    if party.status != ACTIVE:
        raise Forbidden(
            f"party {party.id!r} is {party.status} since {party.status_since}: its token and "
            "signatures are refused (its records stay)"
        )
    # the clock is read only for a token that expires: it costs more than the rest
    if party.token_expires_at is not None and party.token_expires_at <= clock.iso(clock.now()):
        raise Unauthorized(
            f"the token of party {party.id!r} expired at {party.token_expires_at}: ask the hub "
            "operator for a new one (parley party token rotate)"
        )


def key_at(history: list[PartyKey], at: str) -> str | None:
    """The key in force at ``at`` in a party's history (oldest first)."""
    found = None
    for k in history:
        if k.valid_from <= at:
            found = k.public_key
    return found


def explain_signature(
    store: Store, party: Party, compact: str, refused: ParleyError, at: str
) -> None:
    """A signature that fails with the key in force at ``at``: say so plainly if another key of
    the party made it (rotated away, or not yet in force), else re-raise ``refused``."""
    try:
        parsed = jws.Parsed(compact)
    except ParleyError:
        raise refused from None
    for other in store.party_keys(party.id):
        if other.public_key == party.public_key:
            continue
        try:
            parsed.verify(keys.public_key_from_raw(keys.b64url_decode(other.public_key)), party.id)
        except ParleyError:
            continue
        if other.valid_from > at:
            raise Forbidden(
                f"this record is signed with the key of party {party.id!r} that comes into "
                f"force at {other.valid_from}: sign with the current key until then"
            )
        raise Forbidden(
            f"this record is signed with a key of party {party.id!r} that was rotated away "
            f"(it was in force until {_successor(store, other)}): sign with the party's "
            "current key"
        )
    raise refused


def _successor(store: Store, old: PartyKey) -> str:
    later = [k.valid_from for k in store.party_keys(old.party_id) if k.valid_from > old.valid_from]
    return min(later) if later else "now"


class Stamp:
    """The data directory's record that parties changed, read on every authenticated request.

    The file is mapped into memory and `parley party ...` rewrites its bytes in place, so a
    check is a comparison of 16 bytes: the stat() it replaced gave up the GIL on every request
    and cost about 300 us waiting to take it back from the writer thread (issue 17). Where the
    file cannot be mapped, its inode and time are compared as before."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / STAMP
        self._map: mmap.mmap | None = None
        try:
            _ensure_stamp(self._path)
            with open(self._path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), STAMP_BYTES, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            self._map = None
        self._seen = self._now()

    def _now(self) -> bytes | tuple[int, int]:
        mapped = self._map
        if mapped is not None:
            try:
                return mapped[:STAMP_BYTES]
            except ValueError:  # closed by close() meanwhile: compare as an unmapped file
                pass
        try:
            found = os.stat(self._path)
        except OSError:
            return (0, 0)
        return (found.st_ino, found.st_mtime_ns)

    def changed(self) -> bool:
        now = self._now()
        if now == self._seen:
            return False
        self._seen = now
        return True

    def close(self) -> None:
        """Release the mapping (the hub is closing); a later check compares inode and time."""
        mapped, self._map = self._map, None
        if mapped is not None:
            mapped.close()


STAMP_BYTES = 16


def _ensure_stamp(path: Path) -> None:
    """The stamp file, at least STAMP_BYTES long (older hubs wrote 17)."""
    if not path.exists() or path.stat().st_size < STAMP_BYTES:
        _write_stamp(path)


def touch(data_dir: Path) -> None:
    """Tell running hubs that parties changed: new bytes written in place, so every process
    that mapped the file sees them at once (a file replaced by rename would go unseen)."""
    _write_stamp(data_dir / STAMP)


def _write_stamp(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, secrets.token_hex(STAMP_BYTES // 2).encode(), 0)
    finally:
        os.close(fd)


# -- what the operator does ------------------------------------------------------------------------


def expiry(days: float | None) -> str | None:
    if days is None:
        return None
    if not 0 < days <= 3650:
        raise BadRequest("--expires-in is a number of days, more than 0 and at most 3650")
    return clock.iso(clock.now() + timedelta(days=days))


def check_public_key_file(path: Path) -> Ed25519PublicKey:
    """The public key in a .pub.json file; a private key file is refused, not halved."""
    public = keys.load_public_key(path)  # refuses what is no Ed25519 JWK at all
    if "d" in json.loads(path.read_text()):
        raise BadRequest(
            f"{path} is a private key: give the .pub.json; the private key must stay with its "
            "party",
            field="public_key",
        )
    return public


def _party(store: Store, party_id: str) -> Party:
    found = store.party(party_id)
    if found is None or found.id == hubrecords.HUB:
        raise NotFound(f"no party {party_id!r}")
    return found


def _record(settings: Settings, store: Store, kind: str, body: dict[str, Any]) -> int:
    key = hub_key(settings)
    hubrecords.ensure_hub_party(store, key)
    (index,) = store.append([hubrecords.record(key, kind, body)])
    return index


def set_status(settings: Settings, party_id: str, status: str) -> dict[str, Any]:
    store = open_store(settings)
    try:
        party = _party(store, party_id)
        if party.status == RETIRED:
            raise Conflict(f"party {party_id!r} is retired since {party.status_since}: final")
        if party.status not in MOVES[status]:
            raise Conflict(f"party {party_id!r} is already {party.status}")
        since = clock.iso(clock.now())
        store.set_party_status(party_id, status, since)
        touch(settings.data_dir)
        body = {"party": party_id, "status": status, "previous": party.status, "since": since}
        index = _record(settings, store, hubrecords.PARTY_STATUS, body)
    finally:
        store.close()
    return {**body, "log_index": index}


def rotate_token(
    settings: Settings, party_id: str, expires_in_days: float | None
) -> dict[str, Any]:
    expires_at = expiry(expires_in_days)
    store = open_store(settings)
    try:
        party = _party(store, party_id)
        if party.status == RETIRED:
            raise Conflict(f"party {party_id!r} is retired since {party.status_since}")
        token = tokens.new_token()
        store.set_token(party_id, tokens.token_digest(token), expires_at)
        touch(settings.data_dir)
        body = {"party": party_id, "rotated_at": clock.iso(clock.now()), "expires_at": expires_at}
        index = _record(settings, store, hubrecords.PARTY_TOKEN, body)
    finally:
        store.close()
    return {**body, "token": token, "log_index": index}


def rotate_key(
    settings: Settings,
    party_id: str,
    public_key: Ed25519PublicKey,
    endorsed: str | None = None,
) -> dict[str, Any]:
    """Put ``public_key`` in force; ``endorsed``, the party's endorsement of it by its current
    key (parley.parties.endorsement), where the party still has that key."""
    new = keys.b64url(keys.public_raw(public_key))
    store = open_store(settings)
    try:
        party = _party(store, party_id)
        if party.status == RETIRED:
            raise Conflict(f"party {party_id!r} is retired since {party.status_since}")
        if endorsed is not None:
            endorsement.check(endorsed, party_id, party.public_key, new)
        valid_from = clock.iso(clock.now() + timedelta(seconds=KEY_GRACE_S))
        store.rotate_key(party_id, new, valid_from)
        touch(settings.data_dir)
        body = {
            "party": party_id,
            "public_key": {"kty": "OKP", "crv": "Ed25519", "x": new},
            "previous_key": {"kty": "OKP", "crv": "Ed25519", "x": party.public_key},
            "valid_from": valid_from,
            "endorsement": None if endorsed is None else endorsed.strip(),
        }
        index = _record(settings, store, hubrecords.PARTY_KEY, body)
        store.set_key_log_index(new, index)
    finally:
        store.close()
    return {**body, "log_index": index}


def key_history(store: Store, party_id: str) -> list[dict[str, Any]]:
    """The party's keys, oldest first, each in force from ``valid_from`` until the next one's:
    what `parley verify receipt --party-key` takes to check records across rotations."""
    found = store.party_keys(party_id)
    return [
        {
            "party": k.party_id,
            "public_key": {"kty": "OKP", "crv": "Ed25519", "x": k.public_key},
            "valid_from": k.valid_from,
            "valid_until": found[i + 1].valid_from if i + 1 < len(found) else None,
            "log_index": k.log_index,
        }
        for i, k in enumerate(found)
    ]


def register(
    settings: Settings,
    party_id: str,
    name: str,
    role: str,
    public_key: Ed25519PublicKey,
    expires_in_days: float | None,
) -> dict[str, Any]:
    """`parley party add`: the party's token (with an expiry if one is asked for) and the hub
    entry of its arrival, so every party learns who joined, in what role, with which key."""
    from parley.hub import setup

    expires_at = expiry(expires_in_days)
    token = setup.add_party(settings, party_id, name, role, public_key)
    store = open_store(settings)
    try:
        if expires_at is not None:
            store.set_token(party_id, tokens.token_digest(token), expires_at)
        added = store.party(party_id)
        jwk = keys.public_jwk(public_key)
        body = {
            "party": party_id,
            "name": name,
            "role": role,
            "public_key": jwk,
            "key_thumbprint": thumbprint(jwk),
            "added_at": added.created_at if added else clock.iso(clock.now()),
            "token_expires_at": expires_at,
        }
        index = _record(settings, store, hubrecords.PARTY_ADDED, body)
    finally:
        store.close()
    return {**body, "token": token, "log_index": index}


def thumbprint(jwk: dict[str, str]) -> str:
    """The key's RFC 7638 JWK thumbprint (SHA-256, base64url): what a party compares with the
    fingerprint the new party gives it through another channel."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    return keys.b64url(hashlib.sha256(canonical.encode("ascii")).digest())
