"""Shared fixtures: real SQLite files, a real PostgreSQL, a real hub on a real socket.

``backend`` runs a test once per storage backend. PostgreSQL comes from
``PARLEY_TEST_POSTGRES_URL`` (scripts/test starts a throw-away cluster and sets it); each test
gets an empty schema. Without the variable the PostgreSQL half is skipped, unless
``PARLEY_REQUIRE_POSTGRES`` is set, as it is in CI, where it fails instead.
"""

from __future__ import annotations

import ast
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import config
from parley.api.app import create_app
from parley.client.http import Client
from parley.config import Settings
from parley.hub import setup
from parley.hub.core import Hub

POSTGRES_URL = os.environ.get("PARLEY_TEST_POSTGRES_URL")

# CPython before 3.11.8 keeps the AST constructor's recursion depth in interpreter-wide state
# (python/cpython#106905): two threads calling ast.parse at once -- pytest formatting a failure
# or rewriting a test module while a server thread formats a traceback (3.11's traceback module
# parses source lines for its carets) -- end in "SystemError: AST constructor recursion depth
# mismatch", and pytest aborts the whole session with INTERNALERROR. One lock makes it serial.
_ast_lock = threading.RLock()
_ast_parse = ast.parse


def _serial_ast_parse(*args: Any, **kwargs: Any) -> Any:
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _serial_ast_parse  # type: ignore[assignment]


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        if not POSTGRES_URL:
            if os.environ.get("PARLEY_REQUIRE_POSTGRES"):
                pytest.fail("PARLEY_TEST_POSTGRES_URL is not set but PostgreSQL is required")
            pytest.skip("no PostgreSQL: run scripts/test, or set PARLEY_TEST_POSTGRES_URL")
        _reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return ""


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Settings:
    data = tmp_path / "data"
    setup.init(data, backend or None, None)
    loaded = config.load(data, backend or None)
    return replace(loaded, checkpoint_interval_s=0.05)


@dataclass
class PartyHandle:
    id: str
    role: str
    token: str
    key: Ed25519PrivateKey


@pytest.fixture
def parties(settings: Settings) -> dict[str, PartyHandle]:
    made = {}
    for party_id, role in [
        ("alpha", "member"),
        ("bravo", "member"),
        ("charlie", "member"),
        ("relief", "notifier"),
        ("monitor", "observer"),
    ]:
        key = Ed25519PrivateKey.generate()
        token = setup.add_party(settings, party_id, party_id.title(), role, key.public_key())
        made[party_id] = PartyHandle(party_id, role, token, key)
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    hub: Hub
    settings: Settings

    def client(self, party: PartyHandle) -> Client:
        return Client(self.url, party.id, party.token, party.key)


@pytest.fixture
def server(settings: Settings, parties: dict[str, PartyHandle]) -> Iterator[Server]:
    """A real hub served by uvicorn on a loopback socket, in a thread of the test process."""
    hub = Hub(settings)
    app = create_app(settings, hub)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Server(f"http://127.0.0.1:{port}", hub, settings)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        hub.close()


@dataclass
class Ran:
    code: int
    out: str
    err: str


ParleyAs = Callable[..., Ran]


@pytest.fixture
def parley_as(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> ParleyAs:
    """Run the real `parley` command in this process as a party of the test hub (a subprocess
    each costs seconds of imports): ``parley_as(party, "site", "list")``."""
    from parley.cli.app import main
    from parley.parties import keys

    def run(party: PartyHandle, *args: str) -> Ran:
        key = tmp_path / f"{party.id}.key.json"
        if not key.exists():
            keys.write_private_key(key, party.key)
        for name, value in {
            "PARLEY_HUB": server.url,
            "PARLEY_PARTY": party.id,
            "PARLEY_KEY": str(key),
            "PARLEY_TOKEN": party.token,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("sys.argv", ["parley", *args])
        with pytest.raises(SystemExit) as ended:
            main()
            raise SystemExit(0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        code = ended.value.code
        return Ran(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run
