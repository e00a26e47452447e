"""A stopped hub's database, tampered with: the restarted `parley serve` must refuse to serve,
naming the first thing it found, rather than sign a checkpoint over an altered tree (a fork).
And `parley verify log --state` must notice altered entries even when the log did not grow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from parley import config
from parley.api.app import create_app
from parley.client import receipts
from parley.client.http import Client
from parley.config import Settings
from parley.hub.core import Hub
from parley.store import schema as t

from .conftest import PartyHandle, Server, free_port
from .test_log_api import SITE

N = 8
RESTRICTED = {4, 5}  # entries of records shared only with bravo: a salted commitment


class Serving:
    """A real `parley serve` process, its output kept in a file."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parley",
                    "serve",
                    "--data",
                    str(settings.data_dir),
                    "--port",
                    str(self.port),
                ],
                env={**os.environ, "PARLEY_DATABASE_URL": settings.database_url},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def up(self, timeout: float = 90) -> bool:
        """True once it answers, False if it exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"parley serve neither answered nor exited:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_settings(settings: Settings) -> Settings:
    """The fixture's settings, written where `parley serve` reads them: checkpoints fast."""
    fast = replace(settings, checkpoint_interval_s=0.05)
    settings.config_path.write_text(config.dump(replace(fast, database_url="")))
    return fast


def engine(settings: Settings) -> sa.Engine:
    return sa.create_engine(settings.database.replace("postgresql://", "postgresql+psycopg://", 1))


def submit_with_receipt(client: Client, audience: Any = "all") -> dict[str, Any]:
    response = client.http.post(
        "/api/v1/submissions",
        params={"receipt": 10},
        content=client.sign("site", SITE, audience),
        headers={"Content-Type": "application/jose"},
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    assert answer["receipt"] is not None
    return answer


@contextmanager
def in_process(settings: Settings) -> Iterator[str]:
    """A hub on a real socket, in this process (no interpreter start-up to wait for); stopped
    cleanly on exit."""
    hub = Hub(settings)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(settings, hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not uv.started:
            assert time.monotonic() < deadline, "the hub did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        hub.close()


@pytest.fixture
def stopped_hub(
    settings: Settings, parties: dict[str, PartyHandle]
) -> tuple[Settings, list[dict[str, Any]]]:
    """A hub that logged N records (receipts in hand), then was stopped cleanly."""
    settings = serve_settings(settings)
    relief = parties["relief"]
    with in_process(settings) as url, Client(url, relief.id, relief.token, relief.key) as client:
        answers = [
            submit_with_receipt(client, ["bravo"] if i in RESTRICTED else "all") for i in range(N)
        ]
    assert [a["sequence"] for a in answers] == list(range(N))
    return settings, answers


def refusal(settings: Settings, tmp_path: Path) -> str:
    """Start `parley serve` on the tampered database; it must exit 1. Its output."""
    hub = Serving(settings, tmp_path / "restart.log")
    try:
        if hub.up():
            pytest.fail(f"the hub started serving a tampered log:\n{hub.output()}")
    finally:
        hub.stop()
    assert hub.proc.returncode == 1, hub.output()
    out = " ".join(hub.output().split())  # the console wraps long lines
    assert "refusing to serve this log" in out
    assert "Traceback" not in out
    return out


def entry(conn: sa.Connection, index: int) -> bytes:
    c = t.log_entries.c
    return bytes(conn.execute(sa.select(c.entry).where(c.idx == index)).scalar_one())


def flip_hex_digit(data: bytes, field: str) -> bytes:
    """One hex digit of ``field``'s value changed; the entry stays well-formed JSON."""
    at = data.index(f'"{field}":"'.encode()) + len(field) + 4
    digit = data[at : at + 1]
    return data[:at] + (b"1" if digit != b"1" else b"2") + data[at + 1 :]


def delete_newest(conn: sa.Connection, keep: int) -> None:
    s = t.submissions.c
    seqs = sa.select(s.seq).where(s.log_index >= keep).scalar_subquery()
    conn.execute(t.audiences.delete().where(t.audiences.c.submission_seq.in_(seqs)))
    conn.execute(t.submissions.delete().where(s.log_index >= keep))
    conn.execute(t.log_entries.delete().where(t.log_entries.c.idx >= keep))
    conn.execute(t.log_state.update().values(size=keep))


def _delete_newest_and_checkpoints(conn: sa.Connection) -> None:
    """Nothing left in the database contradicts itself: only the copy of the newest
    checkpoint the hub keeps in its data directory can tell."""
    delete_newest(conn, N - 2)
    conn.execute(t.checkpoints.delete().where(t.checkpoints.c.size > N - 2))


def _flip_entry(index: int, field: str) -> Callable[[sa.Connection], None]:
    def tamper(conn: sa.Connection) -> None:
        altered = flip_hex_digit(entry(conn, index), field)
        conn.execute(
            t.log_entries.update().where(t.log_entries.c.idx == index).values(entry=altered)
        )

    return tamper


def _alter_jws(conn: sa.Connection) -> None:
    s = t.submissions.c
    jws = conn.execute(sa.select(s.jws).where(s.log_index == 2)).scalar_one()
    last = "A" if jws[-1] != "A" else "B"
    conn.execute(t.submissions.update().where(s.log_index == 2).values(jws=jws[:-1] + last))


def _alter_checkpoint_root(conn: sa.Connection) -> None:
    c = t.checkpoints.c
    size, note = conn.execute(sa.select(c.size, c.note).order_by(c.size.desc())).first() or (0, "")
    lines = note.split("\n")
    lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]
    conn.execute(t.checkpoints.update().where(c.size == size).values(note="\n".join(lines)))


def _renumber_checkpoint(conn: sa.Connection) -> None:
    c = t.checkpoints.c
    conn.execute(t.checkpoints.update().where(c.size == N).values(size=N + 1))


def _log_state(size: int) -> Callable[[sa.Connection], None]:
    def tamper(conn: sa.Connection) -> None:
        conn.execute(t.log_state.update().values(size=size))

    return tamper


def _id(answers: list[dict[str, Any]], index: int) -> str:
    return re.escape(str(answers[index]["id"]))


CASES: dict[str, tuple[Callable[[sa.Connection], None], Callable[[list[dict[str, Any]]], str]]] = {
    "entry-hex-digit": (
        _flip_entry(3, "jws_sha256"),
        lambda a: (
            rf"entry 3 \(submission {_id(a, 3)}\) does not match its stored record: "
            r"jws_sha256 differs"
        ),
    ),
    "restricted-entry-hex-digit": (
        _flip_entry(4, "commitment"),
        lambda a: (
            rf"entry 4 \(submission {_id(a, 4)}\) does not match its stored record: "
            r"commitment differs"
        ),
    ),
    "submission-jws": (
        _alter_jws,
        lambda a: (
            rf"entry 2 \(submission {_id(a, 2)}\) does not match its stored record: "
            r"jws_sha256 differs"
        ),
    ),
    "newest-entries-deleted": (
        lambda conn: delete_newest(conn, N - 2),
        lambda a: rf"the log has {N - 2} entries but checkpoint {N} was signed",
    ),
    "newest-entries-deleted-with-their-checkpoints": (
        _delete_newest_and_checkpoints,
        lambda a: (
            rf"the log has {N - 2} entries but checkpoint {N} was signed \(the last one "
            r"this hub recorded in .*latest-checkpoint\)"
        ),
    ),
    "latest-checkpoint-altered": (
        _alter_checkpoint_root,
        lambda a: (
            rf"the latest stored checkpoint \(size {N}\) does not verify with this "
            r"hub's key"
        ),
    ),
    "latest-checkpoint-renumbered": (
        _renumber_checkpoint,
        lambda a: rf"the checkpoint stored as size {N + 1} is signed for size {N}",
    ),
    "log-state-grown": (
        _log_state(N + 1),
        lambda a: rf"the log has {N} entries but its recorded size \(log_state\) is {N + 1}",
    ),
    "log-state-shrunk": (
        _log_state(N - 1),
        lambda a: rf"the log has {N} entries but its recorded size \(log_state\) is {N - 1}",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_tampered_log_is_refused_naming_what_differs(
    stopped_hub: tuple[Settings, list[dict[str, Any]]], tmp_path: Path, case: str
) -> None:
    settings, answers = stopped_hub
    tamper, message = CASES[case]
    db = engine(settings)
    with db.begin() as conn:
        tamper(conn)
    db.dispose()
    out = refusal(settings, tmp_path)
    assert re.search(message(answers), out), out


def test_a_deleted_latest_checkpoint_is_signed_again_over_the_same_tree(
    stopped_hub: tuple[Settings, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Not a fault: the tree still holds what was signed, and the hub signs it again. Every
    receipt handed out before still verifies against what it serves now."""
    settings, answers = stopped_hub
    db = engine(settings)
    with db.begin() as conn:
        conn.execute(t.checkpoints.delete().where(t.checkpoints.c.size == N))
    db.dispose()
    with in_process(settings) as url:
        key = httpx.get(f"{url}/log/verifier-key").text.strip()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            served = httpx.get(f"{url}/log/checkpoint").text
            if served.split("\n")[1] == str(N):
                break
            time.sleep(0.05)
        for answer in answers:
            receipts.verify(answer["receipt"], key)
        # The receipts of the last entries held the deleted checkpoint: the same size and root
        # are signed again, not a different tree.
        (last,) = [a["receipt"]["checkpoint"] for a in answers[-1:]]
        assert last.split("\n")[:3] == served.split("\n")[:3]
        assert served.split("\n")[1] == str(N)


def test_verify_log_state_rehashes_an_unchanged_log(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    """The hub serves an altered entry under the checkpoint it signed before: size and root
    are unchanged, and `verify log --state` must still fetch, re-hash and name it."""
    with server.client(parties["relief"]) as client:
        client.submit_batch([client.sign("site", SITE) for _ in range(N)])
    deadline = time.monotonic() + 10
    while server.hub.log.published_size() < N and time.monotonic() < deadline:
        time.sleep(0.02)
    key = httpx.get(f"{server.url}/log/verifier-key").text.strip()
    state = tmp_path / "state.json"

    def verify_log() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "parley", "verify", "log", server.url, "--state", str(state)],
            env={**os.environ, "PARLEY_LOG_KEY": key, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = verify_log()
    assert first.returncode == 0, first.stderr
    assert f"log verifies: {N} entries" in first.stdout
    db = engine(server.settings)
    with db.begin() as conn:
        _flip_entry(3, "jws_sha256")(conn)
    db.dispose()
    again = verify_log()
    assert again.returncode == 1, again.stdout
    assert re.search(
        r"entry 3 changed since the last verified checkpoint \(size 8\)",
        " ".join(again.stderr.split()),
    ), again.stderr


def test_durability_settings_are_checked_at_start_up(settings: Settings) -> None:
    """SQLite commits with synchronous=FULL; a PostgreSQL without fsync is named at start-up
    (the test cluster runs with fsync=off on purpose: a warning, not a refusal)."""
    hub = Hub(settings)
    try:
        found = hub.store.durability()
        if hub.store.sqlite:
            assert found == {"synchronous": "full", "journal_mode": "wal"}
            assert hub.log.warnings == []
        else:
            assert any("fsync=off" in w for w in hub.log.warnings) == (found["fsync"] == "off")
            assert any("synchronous_commit=off" in w for w in hub.log.warnings) == (
                found["synchronous_commit"] == "off"
            )
    finally:
        hub.close()
