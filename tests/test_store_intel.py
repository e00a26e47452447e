"""The store's TAXII index contract (``store.intel``), held by SQLite and PostgreSQL alike.

``parley.intel`` decides what goes where; these check what the store promises it: one indexing
step at a time from where the index stands, a collection created once with its first object, a
version indexed once, and every read behind the audience check.
"""

from __future__ import annotations

import uuid
from typing import Any

from parley import clock
from parley.config import Settings
from parley.store.collection_names import id_of, key_of
from parley.store.db import NewSubmission, Store, StoredConflict
from parley.store.intel import CollectionRow, IndexBatch

from .conftest import PartyHandle

PAIR = key_of(("alpha", "bravo"))


def intelligence(party: str, audience: tuple[str, ...] | None) -> NewSubmission:
    now = clock.iso(clock.now())
    return NewSubmission(
        str(uuid.uuid4()),
        "intelligence",
        party,
        uuid.uuid4().hex,
        now,
        now,
        audience,
        "a.b.c",
        None if audience is None else "00",
        b"entry",
    )


def row(collection: str, submission: str, stix_id: str, version: str, added: str) -> dict[str, str]:
    return {
        "collection_id": collection,
        "stix_id": stix_id,
        "stix_type": stix_id.split("--")[0],
        "version": version,
        "spec_version": "2.1",
        "date_added": added,
        "submission_id": submission,
    }


def pair_collection() -> CollectionRow:
    return CollectionRow(id_of(PAIR), PAIR, "alpha and bravo", None, None)


def test_index_writes_from_where_it_stands_and_once_per_version(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    store = Store(settings.database)
    store.append([intelligence("alpha", ("alpha", "bravo")) for _ in range(3)])
    assert store.intel.behind("intelligence")
    synced, subs = store.intel.unindexed("intelligence", 2)
    assert len(subs) == 2 and [s.audience_all for s in subs] == [False, False]
    pair = pair_collection()
    a, b = subs

    def first(last_added: str) -> IndexBatch:
        rows = [
            row(pair.id, a.id, "indicator--1", "2026-01-01T00:00:00.000Z", "2026-01-02"),
            # the same version again, in the same batch: kept once
            row(pair.id, b.id, "indicator--1", "2026-01-01T00:00:00.000Z", "2026-01-03"),
        ]
        return IndexBatch(rows, [pair, pair], "2026-01-03")

    assert store.intel.index(synced, b.seq, first) == [pair]
    # a stale position (another process indexed meanwhile) writes nothing, not even the build
    called = []
    assert store.intel.index(synced, b.seq, lambda last: called.append(last) or first(last)) is None
    assert called == []

    synced, (c,) = store.intel.unindexed("intelligence", 10)
    assert synced == b.seq

    def second(last_added: str) -> IndexBatch:
        assert last_added == "2026-01-03"
        # a version the collection holds already: dropped
        again = row(pair.id, c.id, "indicator--1", "2026-01-01T00:00:00.000Z", "2026-01-04")
        return IndexBatch([again], [pair], "2026-01-04")

    assert store.intel.index(synced, c.seq, second) == []  # the collection exists already
    assert not store.intel.behind("intelligence")
    assert [r.key for r in store.intel.collections()] == [PAIR]
    assert store.intel.indexed([a.id, b.id, c.id]) == {a.id: "2026-01-01T00:00:00.000Z"}
    store.close()


def test_index_within_the_appending_transaction_only_when_nothing_earlier_waits(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    store = Store(settings.database)
    everyone = id_of("all")
    given: list[str] = []

    def within(records: list[NewSubmission], version: str) -> Any:
        def step(conn: Any, batch: Any, indices: Any) -> None:
            def build(last_added: str) -> IndexBatch:
                given.append(last_added)
                rows = [row(everyone, r.id, "indicator--9", version, "2026-02-01") for r in records]
                return IndexBatch(rows, [], "2026-02-01")

            found = store.intel.index_within(conn, "intelligence", [r.id for r in records], build)
            results.append(found)

        return step

    # Nothing waits: the rows are indexed in the appending transaction, committed with it.
    results: list[Any] = []
    first = intelligence("alpha", None)
    store.append([first], [within([first], "2026-01-01T00:00:00.000Z")])
    assert results == [([], {first.id: "2026-01-01T00:00:00.000Z"})]
    assert not store.intel.behind("intelligence")
    assert store.intel.indexed([first.id]) == {first.id: "2026-01-01T00:00:00.000Z"}

    # An earlier submission the index has not read yet: nothing is written, the index still
    # stands where it stood, and both wait for the indexing step.
    waiting = intelligence("alpha", None)
    store.append([waiting])
    results.clear()
    later = intelligence("alpha", None)
    store.append([later], [within([later], "2026-01-05T00:00:00.000Z")])
    assert results == [None] and given == [""]
    synced, subs = store.intel.unindexed("intelligence", 10)
    assert [s.id for s in subs] == [waiting.id, later.id]

    # A step that fails is undone alone: the submissions it came with are stored.
    def broken(conn: Any, batch: Any, indices: Any) -> None:
        store.intel.index_within(
            conn,
            "intelligence",
            [r.id for r in batch],
            lambda last: 1 / 0,  # type: ignore[arg-type,return-value]
        )

    store.intel.index(synced, subs[-1].seq, lambda last: IndexBatch([], [], last))
    kept = intelligence("alpha", None)
    (index,) = store.append([kept], [broken])
    assert index >= 0 and store.intel.behind("intelligence")
    assert store.intel.indexed([kept.id]) == {}
    store.close()


def test_reads_pass_the_audience_check(settings: Settings, parties: dict[str, PartyHandle]) -> None:
    store = Store(settings.database)
    store.append([intelligence("alpha", ("alpha", "bravo")), intelligence("alpha", None)])
    synced, (private, public) = store.intel.unindexed("intelligence", 10)
    pair = pair_collection()
    store.intel.index(
        synced,
        public.seq,
        lambda last: IndexBatch(
            [
                row(pair.id, private.id, "indicator--1", "2026-01-01T00:00:00.000Z", "2026-01-02"),
                row(id_of("all"), public.id, "indicator--1", "2026-03-01T00:00:00.000Z", "x"),
            ],
            [pair],
            "2026-01-02",
        ),
    )
    for viewer, sees in [("bravo", True), ("charlie", False)]:
        assert store.intel.holds(viewer, pair.id, "indicator--1") is sees
        assert len(store.intel.page(viewer, pair.id, after=0, limit=10)) == int(sees)
        assert store.intel.existing(viewer, pair.id, ["indicator--1"]) == (
            {("indicator--1", "2026-01-01T00:00:00.000Z")} if sees else set()
        )
    page = store.intel.page("bravo", pair.id, after=0, limit=10, with_objects=True)
    assert page[0][1:3] == ("indicator--1", "2026-01-01T00:00:00.000Z") and page[0][6] == "a.b.c"
    assert store.intel.page("bravo", pair.id, after=0, limit=10, types=["malware"]) == []
    store.intel.save_status("alpha", "s-1", '{"id":"s-1"}')
    assert store.intel.status("alpha", "s-1") == '{"id":"s-1"}'
    assert store.intel.status("bravo", "s-1") is None
    store.close()


def test_conflict_counts(settings: Settings, parties: dict[str, PartyHandle]) -> None:
    store = Store(settings.database)
    assert store.conflict_counts() == {}
    a = intelligence("alpha", None)
    b = intelligence("bravo", None)
    store.append([a, b])
    now = clock.iso(clock.now())
    store.add_conflicts(
        [
            StoredConflict(
                str(uuid.uuid4()), kind, "high", a.id, b.id, 5.0, "", "{}", now, ("alpha",)
            )
            for kind in ("proximity", "proximity", "overlap")
        ]
    )
    assert store.conflict_counts() == {"proximity": 2, "overlap": 1}
    store.close()
