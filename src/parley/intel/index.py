"""The TAXII view of ``intelligence`` submissions: kept up to date from the log, queried by TAXII.

**Writing.** Every ``intelligence`` submission, signed through the native API or
token-authenticated through TAXII, is picked up from the submissions table in sequence order
(:meth:`Index.sync`), checked as STIX (unless the TAXII request that made it already did), and
indexed into the collection of its audience. A version already in the collection is not indexed
twice (its submission stays in the log). Indexing happens under the ``intel_state`` row lock, so
``date_added`` never decreases along ``seq`` and a page read never misses a row committed later.

**Reading.** Every query joins each row to its submission and applies the store's audience check
(:func:`parley.store.db.visible_to`, the one place audiences are checked), on top of the
collection check the caller made.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from parley import clock
from parley.intel import schema as t
from parley.intel.collections import Collection, Collections
from parley.intel.filters import Filter
from parley.intel.stix import Checked, Refused, Validator, normal, parse_timestamp
from parley.store import schema as core
from parley.store.db import Store, visible_to

KIND = "intelligence"
SYNC_BATCH = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Row:
    """One version of one object in a collection, as TAXII describes it."""

    seq: int
    id: str
    version: str
    date_added: str
    spec_version: str
    submission_id: str
    jws: str | None = None

    def object(self) -> dict[str, Any]:
        """The STIX object exactly as it was submitted (the body of the stored document)."""
        assert self.jws is not None
        return body_of(self.jws)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool


@dataclass(frozen=True)
class Planned:
    """An object a TAXII request checked and submitted, waiting to be indexed."""

    checked: Checked
    collection_id: str


def body_of(compact: str) -> dict[str, Any]:
    """The body of a stored document. The hub checked the JWS on the way in (and that its
    payload is canonical), so the payload is read directly, without re-canonicalising it."""
    payload = compact.split(".", 2)[1]
    document = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body = document["body"]
    assert isinstance(body, dict)
    return body


class Index:
    def __init__(self, store: Store, collections: Collections, validator: Validator) -> None:
        self.store = store
        self.collections = collections
        self.validator = validator
        self._lock = threading.Lock()  # one sync at a time in this process
        self._planned_lock = threading.Lock()
        self._planned: dict[str, Planned] = {}

    # -- writing ----------------------------------------------------------------------------

    def plan(self, submission_id: str, planned: Planned) -> None:
        """Hand over an accepted submission's checked object, so indexing need not check it
        again (if another request indexes it first, it checks it itself: same outcome)."""
        with self._planned_lock:
            self._planned[submission_id] = planned

    def sync(self) -> None:
        """Index every intelligence submission not yet indexed (cheap when there is none)."""
        c = core.submissions.c
        latest = select(func.max(c.seq)).where(c.kind == KIND).scalar_subquery()
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.intel_state.c.synced_seq, latest)).one()
        if row[1] is None or row[1] <= row[0]:
            return
        with self._lock:
            while self._sync_batch():
                pass

    def _sync_batch(self) -> bool:
        """One batch; True if there may be more. Checking happens before the lock is taken,
        so a slow batch never holds up the log's writer."""
        c = core.submissions.c
        with self.store.engine.connect() as conn:
            synced = conn.execute(select(t.intel_state.c.synced_seq)).scalar_one()
            subs = conn.execute(
                select(c.seq, c.id, c.party_id, c.audience_all, c.jws)
                .where(c.kind == KIND, c.seq > synced)
                .order_by(c.seq)
                .limit(SYNC_BATCH)
            ).all()
        if not subs:
            return False
        with self._planned_lock:
            planned = {sub.id: self._planned.get(sub.id) for sub in subs}
        prepared = [
            (sub, self._prepare(planned[sub.id], sub.party_id, sub.audience_all, sub.jws))
            for sub in subs
        ]
        fresh: list[Collection] = []
        with self.store.engine.begin() as conn:
            # The write comes first: it takes the lock (the row lock on PostgreSQL, the
            # database's write lock on SQLite) before anything is read.
            conn.execute(update(t.intel_state).where(t.intel_state.c.id == 1).values(id=1))
            state = conn.execute(select(t.intel_state.c.synced_seq, t.intel_state.c.last_added))
            now_synced, last_added = state.one()
            if now_synced != synced:
                return True  # another process indexed meanwhile: start again from its point
            # Strictly increasing, one microsecond apart at the least: a client that polls
            # with added_after set to the last date it saw can never skip a row.
            added = max(clock.now(), parse_timestamp(last_added) if last_added else EPOCH)
            rows = []
            for sub, ready in prepared:
                if ready is None:
                    continue
                added += MICROSECOND
                checked, audience = ready
                plan = planned[sub.id]
                if plan is not None:
                    collection_id = plan.collection_id
                else:
                    collection_id, new = self.collections.for_audience(audience, conn)
                    if new is not None:
                        fresh.append(new)
                rows.append(
                    {
                        "collection_id": collection_id,
                        "stix_id": checked.id,
                        "stix_type": checked.type,
                        "version": checked.version or normal(added),
                        "spec_version": checked.spec_version,
                        "date_added": normal(added),
                        "submission_id": sub.id,
                    }
                )
            rows = _first_of_each_version(conn, rows)
            if rows:
                conn.execute(insert(t.intel_objects), rows)
            conn.execute(
                update(t.intel_state)
                .where(t.intel_state.c.id == 1)
                .values(synced_seq=subs[-1].seq, last_added=normal(added))
            )
        for collection in fresh:
            self.collections.remember(collection)
        with self._planned_lock:
            for sub in subs:
                self._planned.pop(sub.id, None)
        return len(subs) == SYNC_BATCH

    def _prepare(
        self, planned: Planned | None, party: str, audience_all: bool, compact: str
    ) -> tuple[Checked, list[str] | None] | None:
        """The checked object and the audience of one submission; None if it is no STIX
        object (it stays a record of the log, but is not served over TAXII)."""
        try:
            payload = compact.split(".", 2)[1]
            document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            audience = None if audience_all else sorted(set(document["audience"]) | {party})
            if planned is not None:
                return planned.checked, audience
            return self.validator.check(document["body"]), audience
        except (Refused, ValueError, KeyError, TypeError):
            return None

    def indexed(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """The version each of these submissions was indexed as (absent: not indexed)."""
        o = t.intel_objects.c
        found: dict[str, str] = {}
        with self.store.engine.connect() as conn:
            for start in range(0, len(submission_ids), 500):
                chunk = list(submission_ids[start : start + 500])
                query = select(o.submission_id, o.version).where(o.submission_id.in_(chunk))
                found.update((row[0], row[1]) for row in conn.execute(query))
        return found

    def existing(
        self, viewer: str, collection_id: str, versions: Iterable[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (id, version) pairs the collection holds already, among rows ``viewer`` sees."""
        wanted = set(versions)
        if not wanted:
            return set()
        o = t.intel_objects.c
        found: set[tuple[str, str]] = set()
        with self.store.engine.connect() as conn:
            for chunk in _chunks(sorted({stix_id for stix_id, _ in wanted})):
                query = (
                    select(o.stix_id, o.version)
                    .select_from(_joined())
                    .where(
                        o.collection_id == collection_id,
                        o.stix_id.in_(chunk),
                        visible_to(viewer),
                    )
                )
                found.update((row[0], row[1]) for row in conn.execute(query))
        return found & wanted

    # -- reading ----------------------------------------------------------------------------

    def page(
        self,
        viewer: str,
        collection: Collection,
        where: Filter,
        *,
        after: int,
        limit: int,
        stix_id: str | None = None,
        with_objects: bool = False,
    ) -> Page:
        """Rows of a collection ``viewer`` may see, in the order they were added, after the
        position ``after``; ``stix_id`` narrows to one object's versions."""
        o = t.intel_objects.c
        columns: list[Any] = [
            o.seq,
            o.stix_id,
            o.version,
            o.date_added,
            o.spec_version,
            o.submission_id,
        ]
        if with_objects:
            columns.append(core.submissions.c.jws)
        conditions = [o.collection_id == collection.id, o.seq > after, visible_to(viewer)]
        if stix_id is not None:
            conditions.append(o.stix_id == stix_id)
        conditions += _filters(where, collection.id)
        query = (
            select(*columns)
            .select_from(_joined())
            .where(and_(*conditions))
            .order_by(o.seq)
            .limit(limit + 1)
        )
        with self.store.engine.connect() as conn:
            found = [Row(*row) for row in conn.execute(query)]
        return Page(found[:limit], len(found) > limit)

    def holds(self, viewer: str, collection: Collection, stix_id: str) -> bool:
        """Whether the collection has any version of the object that ``viewer`` may see."""
        o = t.intel_objects.c
        query = (
            select(o.seq)
            .select_from(_joined())
            .where(o.collection_id == collection.id, o.stix_id == stix_id, visible_to(viewer))
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            return conn.execute(query).first() is not None

    # -- add statuses -----------------------------------------------------------------------

    def save_status(self, party: str, document: dict[str, Any]) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(t.intel_status).values(
                    id=document["id"],
                    party_id=party,
                    created_at=clock.iso(clock.now()),
                    document=json.dumps(document, separators=(",", ":")),
                )
            )

    def status(self, party: str, status_id: str) -> dict[str, Any] | None:
        """A status, only for the party whose request it describes."""
        s = t.intel_status.c
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(s.document).where(s.id == status_id, s.party_id == party)
            ).first()
        if row is None:
            return None
        found = json.loads(row[0])
        assert isinstance(found, dict)
        return found


def _joined() -> Any:
    o = t.intel_objects
    return o.join(core.submissions, core.submissions.c.id == o.c.submission_id)


def _filters(where: Filter, collection_id: str) -> list[ColumnElement[bool]]:
    o = t.intel_objects.c
    conditions: list[ColumnElement[bool]] = []
    if where.added_after is not None:
        conditions.append(o.date_added > where.added_after)
        # date_added never decreases along seq, so the first row added after the time bounds
        # the seq range too: the scan starts there instead of at the collection's beginning.
        start = (
            select(func.min(o.seq))
            .where(o.collection_id == collection_id, o.date_added > where.added_after)
            .scalar_subquery()
        )
        conditions.append(o.seq >= start)
    if where.ids is not None:
        conditions.append(o.stix_id.in_(where.ids))
    if where.types is not None:
        conditions.append(o.stix_type.in_(where.types))
    if where.spec_versions is not None:
        conditions.append(o.spec_version.in_(where.spec_versions))
    if where.versions and "all" not in where.versions:
        conditions.append(or_(*[_version(v) for v in where.versions]))
    return conditions


def _version(wanted: str) -> ColumnElement[bool]:
    """``first``/``last`` compare with the other versions of the same object in the same
    collection; every row of a collection has the collection's audience, so a reader of the
    collection sees every version and first and last are the same for all of its readers."""
    o = t.intel_objects.c
    if wanted not in ("first", "last"):
        return o.version == wanted
    other = aliased(t.intel_objects)
    beyond = other.c.version > o.version if wanted == "last" else other.c.version < o.version
    return ~exists().where(
        other.c.collection_id == o.collection_id, other.c.stix_id == o.stix_id, beyond
    )


def _first_of_each_version(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop rows whose (collection, id, version) is already indexed or repeated in the batch."""
    o = t.intel_objects.c
    stored: set[tuple[str, str, str]] = set()
    by_collection: dict[str, set[str]] = {}
    for r in rows:
        by_collection.setdefault(r["collection_id"], set()).add(r["stix_id"])
    for collection_id, stix_ids in by_collection.items():
        # Equality on the collection and IN on ids: an index range per id on both backends
        # (a row-value IN over all three columns makes SQLite scan the whole index).
        for chunk in _chunks(sorted(stix_ids)):
            query = select(o.stix_id, o.version).where(
                o.collection_id == collection_id, o.stix_id.in_(chunk)
            )
            stored.update((collection_id, row[0], row[1]) for row in conn.execute(query))
    kept = []
    for r in rows:
        key = (r["collection_id"], r["stix_id"], r["version"])
        if key not in stored:
            stored.add(key)
            kept.append(r)
    return kept


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
