"""Settings: each declared once, with its default and its help.

A data directory holds ``parley.toml`` (these settings), ``parley.db`` (SQLite, the default),
``hub.key`` (the hub's log-signing key, mode 0600) and ``webhook.key`` (the key webhook deliveries
are signed with, mode 0600). ``PARLEY_DATABASE_URL`` overrides the database.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from parley.errors import BadRequest

DEFAULT_DATA = Path("parley-data")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA
    database_url: str = ""
    origin: str = "parley.example/log"
    max_body_bytes: int = 1024 * 1024
    max_clock_skew_s: float = 300.0
    checkpoint_interval_s: float = 1.0
    batch_max: int = 1000
    planning_horizon_days: int = 30
    reminder_after_h: float = 24.0
    housekeeping_interval_s: float = 60.0
    webhooks_allow_private: bool = False
    witnesses: tuple[str, ...] = ()
    witness_timeout_s: float = 2.0
    witness_quorum: int = 0
    # One process unless asked: per-process state (refused-authentication counts, /metrics)
    # and a restart's timing are what every deployment so far relies on.
    workers: int = 1

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def hub_key_path(self) -> Path:
        return self.data_dir / "hub.key"

    @property
    def webhook_key_path(self) -> Path:
        return self.data_dir / "webhook.key"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "parley.toml"

    @property
    def latest_checkpoint_path(self) -> Path:
        """The newest checkpoint this hub signed or saw, kept outside the database."""
        return self.data_dir / "latest-checkpoint"


HELP: dict[str, str] = {
    "database_url": "SQLAlchemy URL of the database; empty means SQLite in the data directory",
    "origin": "the log's origin line (C2SP tlog-checkpoint); also the hub key's name",
    "max_body_bytes": "largest request body accepted, in bytes",
    "max_clock_skew_s": "largest difference between a submission's client time and the hub's",
    "checkpoint_interval_s": "seconds between a new entry and the signed checkpoint covering it",
    "batch_max": "most submissions committed in one database transaction",
    "planning_horizon_days": "how far ahead an operation may be notified, in days",
    "reminder_after_h": "hours a site may stay unacknowledged before its member is reminded",
    "housekeeping_interval_s": "seconds between rounds of reminders and expiry notices",
    "webhooks_allow_private": (
        "let webhooks reach private, loopback and link-local addresses, and plain http on "
        "loopback; off, a party's webhook can only reach public https targets"
    ),
    "witnesses": (
        'witnesses asked to cosign each checkpoint, each "<url> <cosignature verifier key>"'
    ),
    "witness_timeout_s": "seconds to wait for a witness's cosignature before publishing without",
    "witness_quorum": (
        "how many of the witnesses must cosign a checkpoint for parties to accept it, in the "
        "policy served at /log/policy; 0 means all of them"
    ),
    "workers": (
        "processes `parley serve` runs on its one port, each a whole hub on the one database; "
        "0 means one per core"
    ),
}


def load(data_dir: Path, database_url: str | None = None) -> Settings:
    """Settings from the data directory's file, then the environment, then the caller."""
    values: dict[str, Any] = {}
    path = data_dir / "parley.toml"
    if path.exists():
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise BadRequest(f"{path}: {exc}") from None
    known = {f.name for f in fields(Settings)} - {"data_dir"}
    unknown = set(values) - known
    if unknown:
        raise BadRequest(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    defaults = Settings(data_dir=data_dir)
    for name, value in values.items():
        # A switch written "false" (a string) would otherwise read as on.
        if isinstance(getattr(defaults, name), bool) and not isinstance(value, bool):
            raise BadRequest(f"{path}: {name} must be true or false, not {value!r}")
    if "witnesses" in values:
        listed = values["witnesses"]
        if not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
            raise BadRequest(f'{path}: witnesses must be a list of "<url> <verifier key>"')
        values["witnesses"] = tuple(listed)
    settings = replace(defaults, **values)
    url = database_url or os.environ.get("PARLEY_DATABASE_URL")
    return replace(settings, database_url=url) if url else settings


def worker_count(workers: int) -> int:
    """How many processes ``workers`` (the setting, or ``--workers``) asks for."""
    return workers if workers > 0 else (os.cpu_count() or 1)


def dump(settings: Settings) -> str:
    lines = []
    for f in fields(Settings):
        if f.name == "data_dir":
            continue
        lines.append(f"# {HELP[f.name]}")
        value = getattr(settings, f.name)
        if isinstance(value, bool):  # TOML spells them in lower case
            lines.append(f"{f.name} = {str(value).lower()}")
            continue
        if isinstance(value, tuple):
            lines.append(f"{f.name} = [{', '.join(json.dumps(v) for v in value)}]")
            continue
        lines.append(f'{f.name} = "{value}"' if isinstance(value, str) else f"{f.name} = {value}")
    return "\n".join(lines) + "\n"
