"""What the TAXII endpoints do, without HTTP: one :class:`Intel` per hub.

Adding objects goes through the hub's own pipeline: each accepted STIX object becomes one
``intelligence`` submission whose body is the object and whose audience is the collection's,
recorded as token-authenticated (TAXII clients cannot sign), logged, and given a receipt. Reading
goes through :class:`parley.intel.index.Index`, which checks audiences in the store's one place.

Every refusal is a :class:`parley.errors.ParleyError`; the HTTP layer words it as a TAXII error
message. A collection that a party may not read is, to that party, a collection that does not
exist, with the same words.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley import clock
from parley.errors import BadRequest, Forbidden, NotFound
from parley.hub.admission import Accepted
from parley.hub.admission import Checked as Admitted
from parley.hub.core import Hub
from parley.intel import filters, pool
from parley.intel.collections import Collection, Collections
from parley.intel.cursors import Cursors, Scope
from parley.intel.index import Index, Page, Planned
from parley.intel.stix import STIX_MEDIA_TYPE, Checked, Refused, Validator, shown
from parley.parties import keys
from parley.store.db import REPLAYED, NewSubmission, Party, Transaction

KIND = "intelligence"

# One wording for a collection that is missing and one that is hidden, and likewise objects.
NO_COLLECTION = "no such collection (or not one shared with you)"
NO_OBJECT = "no such object in this collection"
NO_STATUS = "no such status (or not one of your requests)"


@dataclass
class Answer:
    """A TAXII resource and the headers that go with it."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Intel:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.validator = Validator()
        self.validator.warm_up()
        self.collections = Collections(hub.store)
        self.index = Index(hub.store, self.collections, self.validator)
        hub.within_commit.append(self.index.within_commit)
        self.cursors = Cursors(keys.load_private_key(hub.settings.hub_key_path))

    # -- collections ------------------------------------------------------------------------

    def _parties(self) -> list[Party]:
        return list(self.hub.parties().values())

    def collections_for(self, party: Party) -> list[Collection]:
        self.index.sync()  # a signed submission may have opened a collection
        self.collections.reload()  # or another process defined one; listing is rare
        return self.collections.visible(party, self._parties())

    def collection(self, party: Party, collection_id: str) -> Collection:
        self.index.sync()
        found = self.collections.get(collection_id, party, self._parties())
        if found is None:
            raise NotFound(NO_COLLECTION)
        return found

    # -- adding -----------------------------------------------------------------------------

    async def add(self, party: Party, collection: Collection, envelope: object) -> dict[str, Any]:
        """Add an envelope's objects; answers the (complete) status resource."""
        if not collection.can_write(party):
            raise Forbidden("you may read this collection but not add to it")
        items = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(items, list) or not items:
            raise BadRequest('send an envelope: {"objects": [<STIX 2.1 object>, ...]}')
        received = clock.now()
        requested = clock.iso(received)
        loop = asyncio.get_running_loop()
        outcome = _Outcome(len(items))
        audience = collection.audience
        named = [] if isinstance(audience, str) else audience
        known = frozenset(p for p in named if self.hub.is_party(p))
        admission = pool.Admission(KIND, party, audience, known, received)

        def check() -> list[tuple[int, Checked, Admitted | None]]:
            # Checking and building the records is CPU-bound (about 200 µs an object): off the
            # event loop, and spread over the free cores. One hop for it and the query.
            results = pool.check_all(items, admission, self.hub.settings.workers)
            return self._not_yet_added(party, collection, items, results, outcome)

        fresh = await loop.run_in_executor(None, check)
        submitted: list[str] = []
        position: dict[str, int] = {}
        status_id = str(uuid.uuid4())
        saved: list[dict[str, Any]] = []

        def admitted(at: int, submission_id: str) -> None:
            # Planned before the writer runs, so its transaction indexes the object too.
            self.index.plan(submission_id, Planned(fresh[at][1], collection.id))
            submitted.append(submission_id)
            position[submission_id] = at

        def save_within(
            conn: Transaction, records: Sequence[NewSubmission], indices: Sequence[int]
        ) -> None:
            # In the writer's transaction, after the index's step: when every object was
            # admitted, logged and indexed there, the status commits with them (one commit an
            # envelope). Otherwise it is written afterwards, as before.
            if len(records) != len(fresh) or REPLAYED in indices:
                return
            versions = self.index.done([r.id for r in records])
            if versions is None:
                return
            for record, index in zip(records, indices, strict=True):
                i, c, _ = fresh[position[record.id]]
                _logged(outcome, i, c, record.id, index, versions.get(record.id))
            status = outcome.status(status_id, requested)
            self.index.save_status(party.id, status, conn)
            saved.append(status)

        try:
            # One group for the whole envelope: one commit, not one per object.
            results = await self.hub.submit_token_authenticated_all(
                party,
                KIND,
                [c.object for _, c, _ in fresh],
                collection.audience,
                admitted,
                save_within if fresh else None,
                [built for _, _, built in fresh],
            )
            if saved:
                return saved[0]
            accepted: list[tuple[int, Checked, Accepted]] = []
            for (i, c, _), result in zip(fresh, results, strict=True):
                if isinstance(result, Accepted):
                    accepted.append((i, c, result))
                else:
                    outcome.fail(i, c.id, shown(c.version) if c.version else "", result.detail)
            await loop.run_in_executor(None, self._index, accepted, outcome)
        finally:
            self.index.forget(submitted)
        status = outcome.status(status_id, requested)
        await loop.run_in_executor(None, self.index.save_status, party.id, status)
        return status

    def _not_yet_added(
        self,
        party: Party,
        collection: Collection,
        items: Sequence[object],
        results: Sequence[pool.Result],
        outcome: _Outcome,
    ) -> list[tuple[int, Checked, Admitted | None]]:
        """The objects to submit, with their records: the valid ones whose version is not in
        the collection yet (a version sent again is a success that logs nothing new)."""
        versions = [
            (c.id, c.version)
            for c, _ in results
            if isinstance(c, Checked) and c.version is not None
        ]
        stored = self.index.existing(party.id, collection.id, versions)
        fresh: list[tuple[int, Checked, Admitted | None]] = []
        for i, (c, built) in enumerate(results):
            if isinstance(c, Refused):
                outcome.refuse(i, items[i], str(c))
            elif c.version is not None and (c.id, c.version) in stored:
                outcome.succeed(
                    i, c.id, shown(c.version), "this version is already in the collection"
                )
            else:
                if c.version is not None:
                    stored.add((c.id, c.version))
                fresh.append((i, c, built))
        return fresh

    def _index(self, accepted: Sequence[tuple[int, Checked, Accepted]], outcome: _Outcome) -> None:
        indexed = self.index.settle([a.record.id for _, _, a in accepted])
        for i, c, a in accepted:
            _logged(outcome, i, c, a.record.id, a.index, indexed.get(a.record.id))

    # -- reading ----------------------------------------------------------------------------

    def objects(
        self,
        party: Party,
        collection: Collection,
        params: Mapping[str, str],
        *,
        stix_id: str | None = None,
    ) -> Answer:
        """Get Objects, or Get An Object when ``stix_id`` is given."""
        where = filters.parse(params, ids=stix_id is None, types=stix_id is None)
        if stix_id is not None:
            self._require(party, collection, stix_id)
        endpoint = "objects" if stix_id is None else f"object:{stix_id}"
        page, next_value = self._page(party, collection, where, params, endpoint, stix_id, True)
        body: dict[str, Any] = {}
        if page.rows:
            body = _more(page, next_value)
            body["objects"] = [row.object() for row in page.rows]
        return Answer(body, _dates(page))

    def manifest(self, party: Party, collection: Collection, params: Mapping[str, str]) -> Answer:
        where = filters.parse(params)
        page, next_value = self._page(party, collection, where, params, "manifest", None, False)
        body: dict[str, Any] = {}
        if page.rows:
            body = _more(page, next_value)
            body["objects"] = [
                {
                    "id": row.id,
                    "date_added": row.date_added,
                    "version": shown(row.version),
                    "media_type": STIX_MEDIA_TYPE,
                }
                for row in page.rows
            ]
        return Answer(body, _dates(page))

    def versions(
        self, party: Party, collection: Collection, stix_id: str, params: Mapping[str, str]
    ) -> Answer:
        where = filters.parse(params, ids=False, types=False, versions=False)
        self._require(party, collection, stix_id)
        page, next_value = self._page(
            party, collection, where, params, f"versions:{stix_id}", stix_id, False
        )
        body: dict[str, Any] = {}
        if page.rows:
            body = _more(page, next_value)
            body["versions"] = [shown(row.version) for row in page.rows]
        return Answer(body, _dates(page))

    def status(self, party: Party, status_id: str) -> dict[str, Any]:
        found = self.index.status(party.id, status_id)
        if found is None:
            raise NotFound(NO_STATUS)
        return found

    def _require(self, party: Party, collection: Collection, stix_id: str) -> None:
        # No sync here or in _page: the caller found the collection through collection(),
        # which synced a moment ago (each sync is a query: a tenth of a page's time).
        if not self.index.holds(party.id, collection, stix_id):
            raise NotFound(NO_OBJECT)

    def _page(
        self,
        party: Party,
        collection: Collection,
        where: filters.Filter,
        params: Mapping[str, str],
        endpoint: str,
        stix_id: str | None,
        with_objects: bool,
    ) -> tuple[Page, str | None]:
        scope = Scope(party.id, collection.id, endpoint, where.fingerprint())
        given = params.get("next")
        after = self.cursors.open(given, scope) if given else 0
        page = self.index.page(
            party.id,
            collection,
            where,
            after=after,
            limit=filters.limit(params),
            stix_id=stix_id,
            with_objects=with_objects,
        )
        next_value = self.cursors.seal(scope, page.rows[-1].seq) if page.more else None
        return page, next_value


def _logged(
    outcome: _Outcome, i: int, c: Checked, submission_id: str, index: int, version: str | None
) -> None:
    """An accepted object's success, as the index took it (``version`` None: not indexed)."""
    receipt = f"/api/v1/submissions/{submission_id}/receipt"
    if version is not None:
        message = f"logged as submission {submission_id} (log index {index}); {receipt}"
        outcome.succeed(i, c.id, shown(version), message)
    else:
        # Sent twice at once: the other copy was indexed first.
        message = f"this version is already in the collection; logged too: {receipt}"
        outcome.succeed(i, c.id, shown(c.version) if c.version else "", message)


def _more(page: Page, next_value: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if next_value is not None:
        body["next"] = next_value
    return body


def _dates(page: Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": page.rows[0].date_added,
        "X-TAXII-Date-Added-Last": page.rows[-1].date_added,
    }


class _Outcome:
    """The status resource of one add request, filled in object by object."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.successes: dict[int, dict[str, str]] = {}
        self.failures: dict[int, dict[str, str]] = {}

    def succeed(self, i: int, stix_id: str, version: str, message: str) -> None:
        self.successes[i] = {"id": stix_id, "version": version, "message": message}

    def fail(self, i: int, stix_id: str, version: str, message: str) -> None:
        self.failures[i] = {"id": stix_id, "version": version, "message": message}

    def refuse(self, i: int, item: object, message: str) -> None:
        """An object that is not valid STIX: named as well as it names itself."""
        named = item if isinstance(item, dict) else {}
        stix_id = named.get("id")
        version = named.get("modified", named.get("created"))
        self.fail(
            i,
            stix_id if isinstance(stix_id, str) else "",
            version if isinstance(version, str) else "",
            message,
        )

    def status(self, status_id: str, requested: str) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": requested,
            "total_count": self.total,
            "success_count": len(self.successes),
            "failure_count": len(self.failures),
            "pending_count": 0,
        }
        # TAXII lists are never empty: an empty one is left out.
        if self.successes:
            found["successes"] = [self.successes[i] for i in sorted(self.successes)]
        if self.failures:
            found["failures"] = [self.failures[i] for i in sorted(self.failures)]
        return found
