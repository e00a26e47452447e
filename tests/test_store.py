"""The storage contract, held by SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from parley import clock
from parley.config import Settings
from parley.errors import Conflict
from parley.store.db import REPLAYED, NewSubmission, Party, Store
from parley.store.schema import metadata

from .conftest import PartyHandle


def new(party: str, nonce: str, audience: tuple[str, ...] | None = None) -> NewSubmission:
    import uuid

    now = clock.iso(clock.now())
    return NewSubmission(
        str(uuid.uuid4()),
        "site",
        party,
        nonce,
        now,
        now,
        audience,
        "a.b.c",
        None if audience is None else "00",
        b"entry",
    )


def test_migrations_match_the_models(settings: Settings) -> None:
    store = Store(settings.database)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert diff == []


def test_party_ids_are_unique(settings: Settings, parties: dict[str, PartyHandle]) -> None:
    store = Store(settings.database)
    with pytest.raises(Conflict):
        store.add_party(Party("alpha", "again", "member", "x", clock.iso(clock.now())), "d" * 64)
    store.close()


def test_append_assigns_consecutive_indices_and_refuses_replays(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    store = Store(settings.database)
    assert store.append([new("relief", "n1" * 8), new("relief", "n2" * 8)]) == [0, 1]
    # a replay inside the batch and one against the stored log
    assert store.append(
        [new("relief", "n3" * 8), new("relief", "n3" * 8), new("relief", "n1" * 8)]
    ) == [2, REPLAYED, REPLAYED]
    # the same nonce from another party is a different submission
    assert store.append([new("alpha", "n1" * 8)]) == [3]
    assert store.log_size() == 4
    assert len(store.entries(0, 10)) == 4
    store.close()


def test_audience_filter_applies_to_every_read(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    store = Store(settings.database)
    store.append([new("alpha", "a" * 16, ("alpha", "bravo")), new("alpha", "b" * 16)])
    restricted, public = store.list_submissions("alpha")
    assert [s.id for s in store.list_submissions("bravo")] == [restricted.id, public.id]
    assert [s.id for s in store.list_submissions("charlie")] == [public.id]
    assert store.get_submission(restricted.id, "charlie") is None
    assert store.get_submission(restricted.id, "bravo") is not None
    store.close()


def test_concurrent_writers_never_leave_a_gap(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """Several independent stores (as several processes would have) append at once."""
    stores = [Store(settings.database) for _ in range(4)]
    results: list[int] = []
    lock = threading.Lock()

    def write(store: Store, worker: int) -> None:
        for i in range(25):
            got = store.append([new("relief", f"w{worker}-{i}-{'x' * 12}") for _ in range(1)])
            with lock:
                results.extend(got)

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(100))
    assert stores[0].log_size() == 100
    for store in stores:
        store.close()


def test_a_nonce_taken_between_check_and_insert_is_refused_alone(
    settings: Settings, parties: dict[str, PartyHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores the nonce after this one's probe found it free: the database's
    uniqueness refuses the insert, and only that submission is refused, the rest stored."""
    ours, theirs = Store(settings.database), Store(settings.database)
    assert theirs.append([new("relief", "taken" * 4, ("relief",))]) == [0]
    probes: list[int] = []
    real = Store._used_nonces

    def probe_before_the_other_insert(self: Store, cursor: object, batch: object) -> object:
        probes.append(1)
        return set() if len(probes) == 1 else real(self, cursor, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "_used_nonces", probe_before_the_other_insert)
    fresh = new("relief", "fresh" * 4, ("relief", "alpha"))
    assert ours.append([new("relief", "taken" * 4), fresh]) == [REPLAYED, 1]
    assert ours.log_size() == 2
    assert [s.id for s in ours.list_submissions("alpha")] == [fresh.id]
    assert len(ours.entries(0, 10)) == 2
    ours.close()
    theirs.close()


def test_a_batch_larger_than_one_insert_statement_keeps_order_and_audiences(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    store = Store(settings.database)
    batch = [
        new("alpha", f"big-{i:06d}-nonce", ("alpha", "bravo") if i % 3 == 0 else None)
        for i in range(1200)
    ]
    assert store.append(batch) == list(range(1200))
    seen_by_charlie = {s.id for s in store.list_submissions("charlie", limit=1000)}
    seen_by_charlie |= {s.id for s in store.list_submissions("charlie", after=999, limit=1000)}
    assert seen_by_charlie == {s.id for i, s in enumerate(batch) if i % 3}
    bravo = store.list_submissions("bravo", limit=1000) + store.list_submissions(
        "bravo", after=999, limit=1000
    )
    assert [s.log_index for s in bravo] == list(range(1200))
    assert [s.id for s in bravo] == [s.id for s in batch]
    assert len(store.entries(0, 1200)) == 1200
    store.close()


def test_sqlite_writers_queue_on_the_file_lock_beside_the_database(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """Serve processes on one SQLite file take turns on `<database>-writers.lock`, so a waiting
    writer starts the moment the other ends, not after SQLite's busy handler's next sleep."""
    import fcntl
    import os
    import time

    if not settings.database.startswith("sqlite"):
        pytest.skip("PostgreSQL writers queue on the log_state row lock")
    store = Store(settings.database)
    lock = os.open(settings.database.removeprefix("sqlite:///") + "-writers.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # as another process's writer would hold it
    done: list[list[int]] = []
    writer = threading.Thread(target=lambda: done.append(store.append([new("alpha", "q" * 16)])))
    writer.start()
    time.sleep(0.5)
    assert done == []  # waiting its turn
    fcntl.flock(lock, fcntl.LOCK_UN)
    writer.join(timeout=10)
    assert done == [[0]]
    os.close(lock)
    # Released after the commit: another writer (here, this test) can take it at once.
    other = os.open(settings.database.removeprefix("sqlite:///") + "-writers.lock", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)
    store.close()
