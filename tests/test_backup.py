"""``parley backup`` of a running hub and ``parley restore`` into an empty place, on both backends:
the restored hub's log verifies against a party's state saved at backup time, a party that saw
more than the backup holds detects the restored (older) log, and a restore over a data directory
or database that holds anything is refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn

from parley import config
from parley.api.app import create_app
from parley.client.mirror import verify_remote
from parley.config import Settings
from parley.errors import LogError
from parley.hub.core import Hub

from .conftest import POSTGRES_URL, PartyHandle, Server, free_port
from .test_screening_hub import site
from .test_service import cli as cli  # the fixture, shared
from .test_service import refused

pytestmark = pytest.mark.timeout(180)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    hub = Hub(settings)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(settings, hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "the restored hub did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        hub.close()


def _fill(server: Server, party: PartyHandle, n: int) -> None:
    with server.client(party) as client:
        for i in range(n):
            client.submit("site", site(36.0 + i / 100, 35.0, name=f"Site {i}"))
    server.hub.log.publish()


@pytest.fixture
def restore_database() -> Iterator[str | None]:
    """For PostgreSQL, a second, empty database to restore into."""
    if not POSTGRES_URL:
        yield None
        return
    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS parley_restored")
        conn.exec_driver_sql("CREATE DATABASE parley_restored")
    base, _, query = POSTGRES_URL.partition("?")
    yield base.rsplit("/", 1)[0] + "/parley_restored" + (f"?{query}" if query else "")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS parley_restored WITH (FORCE)")
    admin.dispose()


def test_backup_restore_round_trip_verifies_and_an_older_one_is_detected(
    server: Server,
    parties: dict[str, PartyHandle],
    settings: Settings,
    cli: Any,
    tmp_path: Path,
    restore_database: str | None,
) -> None:
    relief = parties["relief"]
    key = server.hub.log.verifier_key
    at_backup = tmp_path / "state-at-backup.json"
    later = tmp_path / "state-later.json"
    _fill(server, relief, 5)
    assert verify_remote(server.url, key, at_backup, progress=False)["size"] == 5

    out = tmp_path / "hub.backup"
    data = str(settings.data_dir)
    made = cli(settings, "backup", "--data", data, "--out", str(out), "--json")  # hub running
    assert made.returncode == 0, made.stderr
    assert out.stat().st_mode & 0o077 == 0  # it holds the hub key
    refused(cli(settings, "backup", "--data", data, "--out", str(out)), "refusing to overwrite")

    _fill(server, relief, 3)  # after the backup: the party sees 8 entries
    assert verify_remote(server.url, key, later, progress=False)["size"] == 8

    target = tmp_path / "restored"
    database = restore_database if settings.database_url else None
    args = ["restore", str(out), "--data", str(target)]
    if database:
        args += ["--database", database]
    done = cli(settings, *args, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["database"] == ("postgresql" if database else "sqlite")

    restored = replace(config.load(target, database), checkpoint_interval_s=0.05)
    assert restored.origin == settings.origin
    with serving(restored) as url:
        # The state saved at backup time: the restored log is the same log.
        assert verify_remote(url, key, at_backup, progress=False)["size"] == 5
        # The state saved later: the restored log is older than what this party has seen.
        with pytest.raises(LogError):
            verify_remote(url, key, later, progress=False)

    # Never over a hub: a data directory or a database holding anything is refused.
    again = cli(settings, *args)
    refused(again, f"{target} is not empty")
    if database:
        other = tmp_path / "elsewhere"
        over = cli(settings, "restore", str(out), "--data", str(other), "--database", database)
        refused(over, "the database holds tables")
        assert not other.exists()
