"""Backups of a hub: one tar file holding the data directory's keys and settings and a consistent
copy of the database, taken while the hub runs; and restoring one into an empty place.

SQLite is copied with its online backup API (a consistent snapshot, writers may go on); PostgreSQL
with ``pg_dump`` (one transaction's snapshot). The hub key is in the backup: keep the file as
secret as the key itself.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import inspect

from parley.config import Settings
from parley.errors import BadRequest, Conflict
from parley.store.base import Base

# What of a data directory a backup carries besides the database; never the database URL (it may
# hold a password) and never a lock or journal file.
FILES = (
    "parley.toml",
    "hub.key",
    "webhook.key",
    "tls.crt",
    "tls.key",
    "latest-checkpoint",
)
SQLITE_NAME = "parley.db"
DUMP_NAME = "postgresql.sql"


def _pg_url(url: str) -> str:
    """A libpq URL (pg_dump, psql) from the SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def backup(settings: Settings, out: Path) -> dict[str, Any]:
    if out.exists():
        raise Conflict(f"{out} exists; refusing to overwrite a backup")
    sqlite = settings.database.startswith("sqlite")
    # The files before the database: the hub writes latest-checkpoint only after committing the
    # entries it covers, so a database copied afterwards holds all of them (the reverse order
    # could save a checkpoint ahead of the database, which the restored hub would refuse).
    kept = {
        n: (settings.data_dir / n).read_bytes() for n in FILES if (settings.data_dir / n).exists()
    }
    with tempfile.TemporaryDirectory() as tmp:
        db_copy = Path(tmp) / (SQLITE_NAME if sqlite else DUMP_NAME)
        if sqlite:
            source = sqlite3.connect(str(settings.data_dir / SQLITE_NAME))
            target = sqlite3.connect(str(db_copy))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            if shutil.which("pg_dump") is None:
                raise BadRequest("pg_dump is not on PATH: install PostgreSQL's client tools")
            argv = ["pg_dump", "--no-owner", "--no-privileges", "--file", str(db_copy)]
            ran = subprocess.run(
                [*argv, _pg_url(settings.database)],
                capture_output=True,
                text=True,
            )
            if ran.returncode != 0:
                raise BadRequest(f"pg_dump failed: {ran.stderr.strip()}")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, data in kept.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(data))
            tar.add(db_copy, arcname=db_copy.name)
    return {
        "out": str(out),
        "database": "sqlite" if sqlite else "postgresql",
        "files": [*kept, SQLITE_NAME if sqlite else DUMP_NAME],
        "bytes": out.stat().st_size,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def restore(backup_file: Path, data_dir: Path, database_url: str | None) -> dict[str, Any]:
    """Unpack into an absent or empty data directory (and, for PostgreSQL, an empty database)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise Conflict(
            f"{data_dir} is not empty: restore into a new data directory, never over a hub"
        )
    try:
        tar = tarfile.open(backup_file, mode="r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BadRequest(f"{backup_file} is not a parley backup: {exc}") from None
    with tar:
        names = tar.getnames()
        if "hub.key" not in names or not ({SQLITE_NAME, DUMP_NAME} & set(names)):
            raise BadRequest(f"{backup_file} is not a parley backup (no hub key or database)")
        unexpected = set(names) - {*FILES, SQLITE_NAME, DUMP_NAME}
        if unexpected:
            raise BadRequest(f"{backup_file} holds unexpected files: {sorted(unexpected)}")
        from_sqlite = SQLITE_NAME in names
        if from_sqlite and database_url:
            raise BadRequest("this backup is of a SQLite hub: restore it without --database")
        if not from_sqlite and not database_url:
            raise BadRequest("this backup is of a PostgreSQL hub: give --database (empty database)")
        if database_url:
            _check_empty(database_url)
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        for member in tar.getmembers():
            if not member.isfile():
                raise BadRequest(f"{backup_file}: {member.name} is not a plain file")
            extracted = tar.extractfile(member)
            assert extracted is not None
            data = extracted.read()
            if member.name == DUMP_NAME:
                assert database_url is not None
                _load_dump(database_url, data)
                continue
            path = data_dir / member.name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, member.mode & 0o600 or 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    return {"data_dir": str(data_dir), "database": "sqlite" if from_sqlite else "postgresql"}


def _check_empty(database_url: str) -> None:
    base = Base(database_url)
    try:
        tables = inspect(base.engine).get_table_names()
    finally:
        base.close()
    if tables:
        raise Conflict(
            f"the database holds tables ({', '.join(sorted(tables)[:5])}...): restore into an "
            "empty database, never over a hub"
        )


def _load_dump(database_url: str, dump: bytes) -> None:
    if shutil.which("psql") is None:
        raise BadRequest("psql is not on PATH: install PostgreSQL's client tools")
    argv = ["psql", "--quiet", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--single-transaction"]
    ran = subprocess.run(
        [*argv, "--dbname", _pg_url(database_url)],
        input=dump,
        capture_output=True,
    )
    if ran.returncode != 0:
        raise BadRequest(f"psql could not load the dump: {ran.stderr.decode(errors='replace')}")
