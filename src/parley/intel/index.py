"""The TAXII view of ``intelligence`` submissions: kept up to date from the log, queried by TAXII.

**Writing.** Every ``intelligence`` submission, signed through the native API or
token-authenticated through TAXII, is picked up from the submissions table in sequence order
(:meth:`Index.sync`), checked as STIX (unless the TAXII request that made it already did), and
indexed into the collection of its audience. A version already in the collection is not indexed
twice (its submission stays in the log). Indexing happens under the ``intel_state`` row lock, so
``date_added`` never decreases along ``seq`` and a page read never misses a row committed later.

**Reading.** Every query joins each row to its submission and applies the store's audience check
(:func:`parley.store.db.visible_to`, the one place audiences are checked), on top of the
collection check the caller made. The statements are the store's (:mod:`parley.store.intel`).
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from parley import clock
from parley.intel.collections import Collection, Collections
from parley.intel.filters import Filter
from parley.intel.stix import Checked, Refused, Validator, normal, parse_timestamp
from parley.store.db import REPLAYED, NewSubmission, Store, Transaction
from parley.store.intel import IndexBatch, Unindexed
from parley.store.rows import stored_body

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
        return stored_body(self.jws)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool


@dataclass(frozen=True)
class Planned:
    """An object a TAXII request checked and submitted, waiting to be indexed."""

    checked: Checked
    collection_id: str


class Index:
    def __init__(self, store: Store, collections: Collections, validator: Validator) -> None:
        self.store = store
        self.collections = collections
        self.validator = validator
        self._lock = threading.Lock()  # one sync at a time in this process
        self._planned_lock = threading.Lock()
        self._planned: dict[str, Planned] = {}
        # Indexed in the writer's transaction: id -> version (None: the collection held that
        # version already, so no row was written).
        self._done: dict[str, str | None] = {}

    # -- writing ----------------------------------------------------------------------------

    def plan(self, submission_id: str, planned: Planned) -> None:
        """Hand over an accepted submission's checked object, so indexing need not check it
        again (if another request indexes it first, it checks it itself: same outcome)."""
        with self._planned_lock:
            self._planned[submission_id] = planned

    def sync(self) -> None:
        """Index every intelligence submission not yet indexed (cheap when there is none)."""
        if not self.store.intel.behind(KIND):
            return
        with self._lock:
            while self._sync_batch():
                pass

    def _sync_batch(self) -> bool:
        """One batch; True if there may be more. Checking happens before the lock is taken,
        so a slow batch never holds up the log's writer."""
        synced, subs = self.store.intel.unindexed(KIND, SYNC_BATCH)
        if not subs:
            return False
        with self._planned_lock:
            planned = {sub.id: self._planned.get(sub.id) for sub in subs}
        prepared = [(sub.id, planned[sub.id], self._prepare(planned[sub.id], sub)) for sub in subs]
        build = functools.partial(self._batch, prepared)
        created = self.store.intel.index(synced, subs[-1].seq, build)
        if created is None:
            return True  # another process indexed meanwhile: start again from its point
        for row in created:
            self.collections.remember(Collection.of(row))
        with self._planned_lock:
            for sub in subs:
                self._planned.pop(sub.id, None)
        return len(subs) == SYNC_BATCH

    def within_commit(
        self, conn: Transaction, records: Sequence[NewSubmission], indices: Sequence[int]
    ) -> None:
        """Runs inside the writer's transaction: index the intelligence submissions it appends,
        if a TAXII request planned every one of them and none before them waits (otherwise
        :meth:`sync` indexes them later, as it would have). This spares an add the reading
        back of its rows and a second commit."""
        ids = [
            r.id for r, i in zip(records, indices, strict=True) if r.kind == KIND and i != REPLAYED
        ]
        if not ids:
            return
        with self._planned_lock:
            planned = [self._planned.get(i) for i in ids]
        prepared = [
            (sub_id, plan, (plan.checked, None))
            for sub_id, plan in zip(ids, planned, strict=True)
            if plan is not None
        ]
        if len(prepared) != len(ids):
            return
        build = functools.partial(self._batch, prepared)
        found = self.store.intel.index_within(conn, KIND, ids, build)
        if found is not None:
            # Only planned rows, whose collections exist: nothing was created.
            with self._planned_lock:
                self._done.update({i: found[1].get(i) for i in ids})

    def done(self, submission_ids: Sequence[str]) -> dict[str, str] | None:
        """In the writer's transaction, after :meth:`within_commit`: the versions these were
        indexed as (absent: a version the collection held already), or None if that step did
        not index them all."""
        with self._planned_lock:
            if not all(i in self._done for i in submission_ids):
                return None
            found = {i: self._done[i] for i in submission_ids}
        return {i: v for i, v in found.items() if v is not None}

    def settle(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """After a TAXII add: the version each of its submissions was indexed as (absent: not
        indexed, as a version the collection held already), indexing now what the writer's
        transaction did not."""
        with self._planned_lock:
            handled = {i: self._done.pop(i) for i in submission_ids if i in self._done}
        versions = {i: v for i, v in handled.items() if v is not None}
        missing = [i for i in submission_ids if i not in handled]
        if missing:
            self.sync()
            versions.update(self.store.intel.indexed(missing))
        return versions

    def forget(self, submission_ids: Sequence[str]) -> None:
        """The request that planned these is done with them (whatever became of them)."""
        with self._planned_lock:
            for i in submission_ids:
                self._planned.pop(i, None)
                self._done.pop(i, None)

    def _batch(
        self,
        prepared: Sequence[tuple[str, Planned | None, tuple[Checked, list[str] | None] | None]],
        last_added: str,
    ) -> IndexBatch:
        # Strictly increasing, one microsecond apart at the least: a client that polls with
        # added_after set to the last date it saw can never skip a row.
        added = max(clock.now(), parse_timestamp(last_added) if last_added else EPOCH)
        rows = []
        new: dict[str, Collection] = {}
        for sub_id, plan, ready in prepared:
            if ready is None:
                continue
            added += MICROSECOND
            checked, audience = ready
            if plan is not None:
                collection_id = plan.collection_id
            else:
                collection_id, collection = self.collections.for_audience(audience)
                if collection is not None:
                    new.setdefault(collection.id, collection)
            rows.append(
                {
                    "collection_id": collection_id,
                    "stix_id": checked.id,
                    "stix_type": checked.type,
                    "version": checked.version or normal(added),
                    "spec_version": checked.spec_version,
                    "date_added": normal(added),
                    "submission_id": sub_id,
                }
            )
        fresh = [collection.row() for collection in new.values()]
        return IndexBatch(rows, fresh, normal(added))

    def _prepare(
        self, planned: Planned | None, sub: Unindexed
    ) -> tuple[Checked, list[str] | None] | None:
        """The checked object and the audience of one submission; None if it is no STIX
        object (it stays a record of the log, but is not served over TAXII)."""
        if planned is not None:
            # Its audience is its collection's, which the plan names: no need to decode it.
            return planned.checked, None
        try:
            payload = sub.jws.split(".", 2)[1]
            document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            audience = (
                None if sub.audience_all else sorted(set(document["audience"]) | {sub.party_id})
            )
            return self.validator.check(document["body"]), audience
        except (Refused, ValueError, KeyError, TypeError):
            return None

    def existing(
        self, viewer: str, collection_id: str, versions: Iterable[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (id, version) pairs the collection holds already, among rows ``viewer`` sees."""
        wanted = set(versions)
        if not wanted:
            return set()
        stix_ids = {stix_id for stix_id, _ in wanted}
        return self.store.intel.existing(viewer, collection_id, stix_ids) & wanted

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
        rows = self.store.intel.page(
            viewer,
            collection.id,
            after=after,
            limit=limit + 1,
            stix_id=stix_id,
            with_objects=with_objects,
            added_after=where.added_after,
            ids=where.ids,
            types=where.types,
            spec_versions=where.spec_versions,
            versions=where.versions,
        )
        found = [Row(*row) for row in rows]
        return Page(found[:limit], len(found) > limit)

    def holds(self, viewer: str, collection: Collection, stix_id: str) -> bool:
        """Whether the collection has any version of the object that ``viewer`` may see."""
        return self.store.intel.holds(viewer, collection.id, stix_id)

    # -- add statuses -----------------------------------------------------------------------

    def save_status(
        self, party: str, document: dict[str, Any], conn: Transaction | None = None
    ) -> None:
        """Keep an add's status (in ``conn``'s transaction if given)."""
        text = orjson.dumps(document).decode()
        self.store.intel.save_status(party, document["id"], text, conn)

    def status(self, party: str, status_id: str) -> dict[str, Any] | None:
        """A status, only for the party whose request it describes."""
        stored = self.store.intel.status(party, status_id)
        if stored is None:
            return None
        found = json.loads(stored)
        assert isinstance(found, dict)
        return found
