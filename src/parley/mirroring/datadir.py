"""A mirror's data directory: ``mirror.key`` (its cosigning key, mode 0600) and ``mirror.db``.

The directory is initialised on first run. The key is never replaced: a mirror that changed its
key would be a new cosigner, and its party's policy would stop counting it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from parley.errors import BadRequest
from parley.log import note

KEY_FILE = "mirror.key"
DB_FILE = "mirror.db"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILE


def default_name() -> str:
    return f"parley-mirror/{secrets.token_hex(4)}"


def load_or_init(data_dir: Path, name: str | None) -> tuple[note.CosignatureSigner, bool]:
    """The mirror's signer, created if the directory holds none; and whether it was created."""
    path = key_path(data_dir)
    if path.exists():
        signer = note.CosignatureSigner.from_key(path.read_text(encoding="utf-8").strip())
        if name is not None and name != signer.name:
            raise BadRequest(
                f"{path} holds the key of mirror {signer.name!r}, not {name!r}; "
                "a mirror keeps its name and key"
            )
        return signer, False
    name = name or default_name()
    try:
        note.check_name(name)
    except note.NoteError as exc:
        raise BadRequest(f"mirror name: {exc.detail}") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    signer = note.CosignatureSigner.generate(name)
    # O_EXCL: two mirrors started at once on one directory cannot both write a key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.signer_key_string() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o600)
    return signer, True
