"""Data directories, the hub key, parties and serving: what the CLI's setup commands call."""

from __future__ import annotations

import re
import secrets
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley import clock, config
from parley.config import Settings
from parley.errors import BadRequest, ParleyError
from parley.log import note
from parley.parties import keys, tokens
from parley.store.db import Party, Store

if TYPE_CHECKING:
    from parley.geo.region import Region


def settings_for(data_dir: Path, database_url: str | None) -> Settings:
    if not (data_dir / "parley.toml").exists():
        raise BadRequest(f"{data_dir} is not a parley data directory; run `parley init` first")
    return config.load(data_dir, database_url)


def open_store(settings: Settings) -> Store:
    return Store(settings.database)


def init(data_dir: Path, database_url: str | None, origin: str | None) -> dict[str, Any]:
    """Create (or complete) a data directory. Never replaces an existing hub key."""
    if origin:
        try:
            note.check_name(origin)
        except ParleyError:
            raise BadRequest(
                f"--origin {origin!r} cannot name a log: use no spaces, plus signs or control "
                "characters (for example example.org/log)"
            ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = config.load(data_dir, database_url)
    derived = False
    if origin:
        settings = replace(settings, origin=origin)
    elif not settings.config_path.exists():
        # Every hub needs an origin of its own: two hubs sharing one would make a party's
        # verifier state from one hub read as a rewritten history of the other.
        settings = replace(settings, origin=unique_origin())
        derived = True
    if not settings.config_path.exists():
        # The URL given on the command line stays out of the file: it may hold a password.
        settings.config_path.write_text(config.dump(replace(settings, database_url="")))
    if not settings.hub_key_path.exists():
        keys.write_private_key(settings.hub_key_path, Ed25519PrivateKey.generate())
    from parley.hub.webhooks import load_or_create_key

    load_or_create_key(settings.webhook_key_path)  # signs webhooks; never the log key
    store = open_store(settings)
    try:
        store.migrate()
    finally:
        store.close()
    return {
        "data_dir": str(data_dir),
        "database": _redacted(settings.database),
        "origin": settings.origin,
        "origin_derived": derived,
        "verifier_key": verifier_key(settings),
    }


def unique_origin() -> str:
    """``<host>/parley-<8 hex>``: readable, and never shared by two hubs by accident."""
    host = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip("-.") or "hub"
    return f"{host}/parley-{secrets.token_hex(4)}"


def hub_key(settings: Settings) -> Ed25519PrivateKey:
    return keys.load_private_key(settings.hub_key_path)


def verifier_key(settings: Settings) -> str:
    """The C2SP signed-note verifier key (name+keyid+base64) every party checks the log with."""
    from parley.log.note import Signer

    return Signer(settings.origin, hub_key(settings)).verifier().key_string()


def add_party(
    settings: Settings, party_id: str, name: str, role: str, public_key: Ed25519PublicKey
) -> str:
    _check_party_id(party_id)
    token = tokens.new_token()
    party = Party(
        party_id, name, role, keys.b64url(keys.public_raw(public_key)), clock.iso(clock.now())
    )
    store = open_store(settings)
    try:
        store.add_party(party, tokens.token_digest(token))
    finally:
        store.close()
    return token


def _check_party_id(party_id: str) -> None:
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", party_id):
        raise BadRequest(
            "a party id is 1-63 lower-case letters, digits and hyphens, starting with a "
            f"letter or digit: {party_id!r}"
        )


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def set_region(settings: Settings, region_file: Path | None, margin_km: float) -> dict[str, Any]:
    """Record the area in a GeoJSON file (None: no area) as the area the hub serves."""
    from parley.geo.region import Region

    region = None
    if region_file is not None:
        try:
            text = region_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadRequest(f"cannot read {region_file}: {exc}") from None
        region = Region.from_geojson(text, margin_km * 1000, region_file.stem)
    return record_region(settings, region)


def record_region(settings: Settings, region: Region | None) -> dict[str, Any]:
    """Record the area the hub serves as a hub entry in the log, for every party to see."""
    from parley.hub import hubrecords

    key = hub_key(settings)
    store = open_store(settings)
    try:
        hubrecords.ensure_hub_party(store, key)
        made = hubrecords.region_record(key, region)
        (index,) = store.append([made])
    finally:
        store.close()
    return {
        "region": None if region is None else region.name,
        "margin_km": None if region is None else region.margin_m / 1000,
        "record": made.id,
        "log_index": index,
    }


def rotate_log_key(settings: Settings) -> dict[str, Any]:
    """Put a new log key in force: generate it, keep it in the data directory beside the old
    ones (which stay, unused for signing), and record the rotation checkpoint both keys sign.
    Running hubs on this database switch at their next publication round."""
    from parley.hub.hublog import KEY_DIR, key_file
    from parley.hub.logcheck import check_stored_log
    from parley.log import checkpoint as cp
    from parley.log import keychain
    from parley.store.log_keys import StaleLogKey

    origin = settings.origin
    first = note.Signer(origin, hub_key(settings))
    key_dir = settings.data_dir / KEY_DIR
    new_key = Ed25519PrivateKey.generate()
    new = note.Signer(origin, new_key)
    new_path = key_file(key_dir, new.verifier())
    keys.write_private_key(new_path, new_key)  # before any checkpoint names it
    store = open_store(settings)
    try:
        for _ in range(5):  # the log may move between reading it and recording the rotation
            ring = keychain.follow(first.verifier(), store.log_key_rotations())
            old = first
            if ring.current != first.verifier():
                old = note.Signer(origin, keys.load_private_key(key_file(key_dir, ring.current)))
            tree, _ = check_stored_log(store, ring, origin, settings.latest_checkpoint_path)
            size = tree.size
            signed = keychain.rotation_note(cp.Checkpoint(origin, size, tree.root(size)), old, new)
            try:
                store.record_log_key_rotation(
                    first.key_string(), old.key_string(), new.key_string(), size, signed
                )
            except StaleLogKey:
                continue
            return {
                "origin": origin,
                "old_key": old.key_string(),
                "new_key": new.key_string(),
                "size": size,
                "rotations": len(ring.rotations) + 1,
                "key_file": str(new_path),
                "rotation_checkpoint": signed,
            }
    finally:
        store.close()
    raise StaleLogKey("the log kept moving while the rotation was recorded; run it again")
