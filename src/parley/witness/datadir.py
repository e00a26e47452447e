"""A witness's data directory: ``witness.key`` (its cosigning key, mode 0600) and
``witness.db`` (its state, see :mod:`parley.witness.state`).

The key file holds one line, the signer key string ``PRIVATE+KEY+<name>+<hex key ID>+
base64(0x04 || seed)`` (:class:`parley.log.note.CosignatureSigner`); its name is the witness's
name, so nothing else needs configuring.
"""

from __future__ import annotations

import os
from pathlib import Path

from parley.errors import BadRequest, Conflict, NotFound
from parley.log import note
from parley.witness.state import WitnessStore

KEY_FILE = "witness.key"
DB_FILE = "witness.db"


class NotAWitness(NotFound):
    title = "No witness here"
    slug = "no-witness"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def init(data_dir: Path, name: str) -> note.CosignatureSigner:
    """Create the witness's key and empty state. Never replaces a key: a witness that changed
    its key would be a new witness, and its old cosignatures would stop counting."""
    try:
        note.check_name(name)
    except note.NoteError as exc:
        raise BadRequest(f"witness name: {exc.detail}") from None
    path = key_path(data_dir)
    if path.exists():
        raise Conflict(f"{path} exists; refusing to replace a witness key")
    data_dir.mkdir(parents=True, exist_ok=True)
    signer = note.CosignatureSigner.generate(name)
    # O_EXCL: two racing inits cannot both write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.signer_key_string() + "\n")
    os.chmod(path, 0o600)
    WitnessStore(data_dir / DB_FILE)
    return signer


def load_signer(data_dir: Path) -> note.CosignatureSigner:
    path = key_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise NotAWitness(
            f"no witness key at {path}; run `parley witness init --data {data_dir}` first"
        ) from None
    return note.CosignatureSigner.from_key(text)


def open_store(data_dir: Path) -> WitnessStore:
    if not key_path(data_dir).exists():
        raise NotAWitness(
            f"{data_dir} is not a witness data directory; run `parley witness init` first"
        )
    return WitnessStore(data_dir / DB_FILE)


def add_log(
    data_dir: Path, origin: str, log_key: str
) -> tuple[note.Verifier | note.CosignatureVerifier, bool]:
    """Trust ``log_key`` (a C2SP verifier key) for checkpoints of ``origin``. Returns the
    parsed key and whether it is new."""
    if not origin or any(ord(c) < 0x20 for c in origin):
        raise BadRequest("the origin must be one non-empty line without control characters")
    try:
        verifier = note.parse_verifier_key(log_key)
    except note.NoteError as exc:
        raise BadRequest(f"log key: {exc.detail}") from None
    added = open_store(data_dir).add_log(origin, verifier.key_string())
    return verifier, added
