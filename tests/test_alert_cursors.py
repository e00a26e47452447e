"""Alert cursors are each party's own (issue 10): the gaps between alpha's cursors must not count
the alerts raised for bravo. Over real sockets on both backends, with the feed, the conflicts
list, the SSE stream's event ids and Last-Event-ID, and the bounds on every cursor."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from parley.config import Settings
from parley.store import db as store_db
from parley.store.db import Store

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, operation, site

ELSEWHERE = (36.55, 35.93)  # a second site far from HOSPITAL: bravo's operations meet it only
HUGE = str(10**20)


def _raise_interleaved(server: Server, parties: dict[str, PartyHandle]) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(relief) as r, server.client(alpha) as a, server.client(bravo) as b:
        r.submit("site", site(*HOSPITAL))
        r.submit("site", site(*ELSEWHERE))
        for who in (a, b, b, a, b, a):
            where = HOSPITAL if who is a else ELSEWHERE
            who.submit("operation", operation(*where, 500))


def _nexts(server: Server, party: PartyHandle, path: str) -> list[int]:
    """Every ``next`` cursor met paging one item at a time."""
    seen: list[int] = []
    cursor = 0
    with server.client(party) as c:
        for _ in range(100):
            cursor = c.get(path, cursor=cursor, limit=1)["next"]
            if cursor is None:
                return seen
            seen.append(cursor)
    raise AssertionError("paging did not end")


def test_each_partys_cursors_are_its_own_1_2_3(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    _raise_interleaved(server, parties)
    alpha, bravo = parties["alpha"], parties["bravo"]
    with server.client(alpha) as a, server.client(bravo) as b:
        mine = a.get("/api/v1/alerts", limit=1000)["items"]
        theirs = b.get("/api/v1/alerts", limit=1000)["items"]
    assert len(mine) >= 3 and len(theirs) >= 3  # bravo's alerts were raised between alpha's
    assert [x["cursor"] for x in mine] == list(range(1, len(mine) + 1))
    assert [x["cursor"] for x in theirs] == list(range(1, len(theirs) + 1))
    # Paging by one: ``next`` is the same per-party cursor, on alerts and on conflicts.
    assert _nexts(server, alpha, "/api/v1/alerts") == list(range(1, len(mine) + 1))
    conflicts = _nexts(server, alpha, "/api/v1/conflicts")
    assert conflicts == list(range(1, len(conflicts) + 1)) and len(conflicts) >= 3


def _stream(server: Server, party: PartyHandle, n: int, **headers: str) -> list[tuple[int, Any]]:
    got: list[tuple[int, Any]] = []
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/alerts/stream",
        headers={"Authorization": f"Bearer {party.token}", **headers},
        timeout=20,
    ) as response:
        assert response.status_code == 200
        event_id = -1
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = int(line.removeprefix("id: "))
            elif line.startswith("data: "):
                got.append((event_id, json.loads(line.removeprefix("data: "))))
                if len(got) == n:
                    return got
    raise AssertionError(f"the stream ended after {len(got)} events")


def test_stream_resumes_from_the_partys_own_last_event_id(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    _raise_interleaved(server, parties)
    alpha = parties["alpha"]
    with server.client(alpha) as a:
        total = len(a.get("/api/v1/alerts", limit=1000)["items"])
    events = _stream(server, alpha, total)
    assert [i for i, _ in events] == list(range(1, total + 1))
    assert all(i == data["cursor"] for i, data in events)
    resumed = _stream(server, alpha, total - 1, **{"Last-Event-ID": "1"})
    assert [i for i, _ in resumed] == list(range(2, total + 1))
    assert [d["id"] for _, d in resumed] == [d["id"] for _, d in events[1:]]


def _problem(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


BAD_LAST_EVENT_IDS = [str(2**70), "9" * 5000, str(2**53), "12a", "-1", "+5"]


def test_cursors_beyond_the_bound_are_a_400(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """One server for every case: each is a plain request answered with a problem."""
    auth = {"Authorization": f"Bearer {parties['alpha'].token}"}
    for path in ("/api/v1/alerts", "/api/v1/conflicts", "/api/v1/alerts/stream"):
        for cursor in (HUGE, str(2**63), str(2**53), "-1"):
            response = httpx.get(
                f"{server.url}{path}", params={"cursor": cursor}, headers=auth, timeout=10
            )
            assert "cursor" in _problem(response)["detail"], (path, cursor)
    for last_event_id in BAD_LAST_EVENT_IDS:
        response = httpx.get(
            f"{server.url}/api/v1/alerts/stream",
            headers={**auth, "Last-Event-ID": last_event_id},
            timeout=10,
        )
        assert "Last-Event-ID" in _problem(response)["detail"], last_event_id


# -- the migration numbers alerts that existed before it ------------------------------------------


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(store_db.__file__).parent / "migrations"))
    return config


def test_migration_numbers_existing_alerts_per_party(tmp_path: Path, backend: str) -> None:
    url = backend or store_db.sqlite_url(tmp_path / "old.db")
    store = Store(url)
    config = _config()
    with store._writer.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    with store._writer.begin() as conn:
        for party in ("alpha", "bravo"):
            conn.execute(
                sa.text(
                    "INSERT INTO parties (id, name, role, public_key, token_digest, created_at) "
                    "VALUES (:p, :p, 'member', 'x', :p, '2026-01-01T00:00:00.000000Z')"
                ),
                {"p": party},
            )
        for n, party in enumerate(["alpha", "bravo", "alpha", "alpha", "bravo", "alpha"], 1):
            conn.execute(
                sa.text(
                    "INSERT INTO alerts (seq, id, party_id, kind, created_at) "
                    "VALUES (:n, :id, :p, 'withdrawal', '2026-01-01T00:00:00.000000Z')"
                ),
                {"n": n, "id": f"a{n}", "p": party},
            )
        # alpha's webhook had delivered up to global seq 4 (its third alert); bravo's up to 2
        for party, seq in (("alpha", 4), ("bravo", 2)):
            conn.execute(
                sa.text(
                    "INSERT INTO webhooks (party_id, url, delivered_seq, failures, last_error, "
                    "updated_at) VALUES (:p, 'https://x.example/', :s, 1, 'HTTP 401', 't')"
                ),
                {"p": party, "s": seq},
            )
    store.migrate()
    with store.engine.connect() as conn:
        numbered = conn.execute(
            sa.text("SELECT id, party_id, party_seq FROM alerts ORDER BY seq")
        ).all()
        rows = conn.execute(sa.text("SELECT party_id, delivered_seq FROM webhooks")).all()
    hooks = {str(r[0]): int(r[1]) for r in rows}
    assert [tuple(r) for r in numbered] == [
        ("a1", "alpha", 1),
        ("a2", "bravo", 1),
        ("a3", "alpha", 2),
        ("a4", "alpha", 3),
        ("a5", "bravo", 2),
        ("a6", "alpha", 4),
    ]
    assert hooks == {"alpha": 3, "bravo": 1}
    assert [a.seq for a in store.alerts_for("alpha", after=2)] == [3, 4]
    store.close()


def test_two_writers_on_one_database_number_each_partys_alerts_without_gaps(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """Two stores are two ``parley serve`` processes: each has its own write lock, so only the
    database keeps two writers from giving one party the same cursor twice."""
    from .test_store import new

    stores = [Store(settings.database), Store(settings.database)]
    (index,) = stores[0].append([new("relief", "subject-000000")])
    (subject,) = [s.id for s in stores[0].list_submissions("relief") if s.log_index == index]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def raise_alerts(store: Store) -> None:
        try:
            start.wait(10)
            for _ in range(25):
                store.add_alerts("withdrawal", subject, "m", ["alpha", "bravo"])
                store.add_alerts("withdrawal", subject, "m", ["alpha"])
        except BaseException as exc:  # reported below, with the numbering
            errors.append(exc)

    threads = [threading.Thread(target=raise_alerts, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        alpha = [a.seq for a in stores[1].alerts_for("alpha", limit=1000)]
        bravo = [a.seq for a in stores[1].alerts_for("bravo", limit=1000)]
        assert alpha == list(range(1, 101)) and bravo == list(range(1, 51))
    finally:
        for store in stores:
            store.close()


def test_a_stream_that_cannot_read_alerts_says_so_before_it_ends(
    server: Server, parties: dict[str, PartyHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(server.hub.store, "alerts_for", broken)
    lines = []
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/alerts/stream",
        headers={"Authorization": f"Bearer {parties['alpha'].token}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
    assert "event: error" in lines
    (data,) = [json.loads(x.removeprefix("data: ")) for x in lines if x.startswith("data: ")]
    assert data["status"] == 500 and "reconnect" in data["detail"]
    assert "database gone" not in "\n".join(lines)
