"""Screening inside the hub: every site, area, movement and operation is screened on arrival.

The index (parley.geo) lives in memory, is rebuilt from the store at start-up and caught up from
it before each screening, so records committed by another process on the same PostgreSQL are in
force too. Conflicts are stored with the parties they alert. Audiences hold: a party is alerted
about a record it cannot see only when the record's author asked for it ("warn anyone who
conflicts"), and then learns only that such a record exists, never which or where.

long module: the index's state and every path that changes it (the commit hook, the catch-up
from other processes, map versions, statuses) must stay under one lock in one class.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from parley import clock
from parley.geo import screening, shapes
from parley.geo.index import Meta, ScreeningIndex
from parley.hub.catchup import SharedCatchUp
from parley.records import areamaps, audiences, operations
from parley.records.kinds import ENDED, KINDS, REPEATABLE, SIDES, Holder, Parsed, body_digest, parse
from parley.store.db import REPLAYED, NewSubmission, Store, StoredConflict
from parley.store.rows import stored_document

# Set while one request's submissions are checked: the index was caught up when they arrived,
# and that view is the one their rules read (see Screening.one_view).
_CAUGHT_UP: contextvars.ContextVar[bool] = contextvars.ContextVar("caught_up", default=False)


class Screening:
    def __init__(self, store: Store, *, only_writer: bool) -> None:
        self.store = store
        # When this process is the database's only writer (one `parley serve` on SQLite), the
        # store changes only through our own writer, whose commits come in through
        # `committed`; otherwise (PostgreSQL, or `parley serve --workers N` on one SQLite file)
        # other processes write too and every catch-up asks the database for their rows.
        self._only_writer = only_writer
        self.rows_read = 0  # rows read back from the database: only other processes' rows
        self.index = ScreeningIndex()
        self.holders: dict[str, Holder] = {}
        self.status: dict[str, str] = {}
        self.categories: dict[str, str] = {}
        # Completed operations leave force but stay findable: incidents are correlated with
        # what flew, not only with what is planned.
        self.flown = ScreeningIndex()
        self._volumes: dict[str, list[shapes.Volume]] = {}
        self._lock = threading.Lock()
        self._seen = -1
        self.caught_up = SharedCatchUp(self.refresh, needed=not only_writer)
        # Records this process is committing: whichever catch-up meets one first screens it,
        # so a read that catches up in between can never put one in force unscreened.
        self._pending: dict[str, Parsed | None] = {}
        self.maps: dict[str, areamaps.AreaMap] = {}
        self._results: dict[str, list[StoredConflict]] = {}
        # (party, kind, digest of the canonical body) -> the newest record with that body
        self._bodies: dict[tuple[str, str, str], str] = {}
        # conflict id -> the resolutions that name it; site, area or movement -> when it ends
        self.resolutions: dict[str, list[str]] = {}
        self.ends: dict[str, datetime | None] = {}
        with self._lock:
            self._read()

    def committed(self, records: Sequence[NewSubmission], indices: Sequence[int]) -> None:
        """Our writer committed these (called from its thread, before their callers are
        answered): bring them into force and screen them now, from memory. The database is
        read only for rows other processes committed before them (log indices between the last
        one seen and ours), so that log order still decides which record screens which."""
        found: list[StoredConflict] = []
        with self._lock:
            for record, index in sorted(zip(records, indices, strict=True), key=lambda ri: ri[1]):
                if index == REPLAYED:
                    self._pending.pop(record.id, None)
                    continue
                if index <= self._seen:  # a catch-up met it first, and screened it
                    self._pending.pop(record.id, None)
                    continue
                if index > self._seen + 1:
                    found += self._read(before=index)
                if record.kind in KINDS:
                    audience = None if record.audience is None else frozenset(record.audience)
                    found += self._integrate(
                        record.id, record.party_id, record.kind, audience, record.body
                    )
                self._seen = index
        self.store.add_conflicts(found)

    def expect(self, arrivals: dict[str, Parsed | None]) -> None:
        """Called before these records are committed."""
        with self._lock:
            self._pending.update(arrivals)

    def forget(self, ids: Sequence[str]) -> None:
        """These expected records were not committed after all (replays)."""
        with self._lock:
            for record_id in ids:
                self._pending.pop(record_id, None)

    def screen(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Answer each newly committed record's conflicts as its author sees them (the commit
        hook, :meth:`committed`, screened them)."""
        with self._lock:
            raised = {i: self._results.pop(i, []) for i in ids}
        answers: dict[str, list[dict[str, Any]]] = {}
        for record_id, found in raised.items():
            author = self.holders[record_id].party if record_id in self.holders else None
            answers[record_id] = [
                self.view(c, author) for c in found if author is not None and author in c.parties
            ]
        return answers

    def unseen(
        self,
        party: str,
        volumes: Sequence[shapes.Volume],
        key: Sequence[str],
        audience: Iterable[str] | None,
    ) -> list[str]:
        """Records in force that meet ``volumes``, that ``party`` may see, and that its key
        (the records it says it has seen there, after ASTM F3548's OVN key) does not name.

        Only records the key may name are asked of it: those whose audience admits the new
        operation's ``audience`` (``parley.records.audiences``), as a key is read by that
        audience."""
        with self._lock:
            self._catch_up()
            met: set[str] = set()
            for volume in volumes:
                for hit in self.index.screen(volume, {"party": party, "record": ""}):
                    record = hit.meta.get("record", hit.key)
                    holder = self.holders[record]
                    if holder.visible_to(party) and audiences.within(audience, holder.audience):
                        met.add(record)
        return sorted(met - set(key))

    def refresh(self) -> None:
        with self._lock:
            self._catch_up()

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """Let every rule checked inside (in this context) read the view as it is: enter after
        ``await caught_up.wait()`` (catchup.py), which caught up after the request arrived.

        Every rule used to ask the database for other processes' rows before it read the index,
        and almost always found nothing: a batch of 12 sites asked 13 times, now once. Records
        committed while a request is checked are ones that arrived after it; the commit hook
        still screens each record against everything before it in log order, so no conflict is
        missed."""
        token = _CAUGHT_UP.set(True)
        try:
            yield
        finally:
            _CAUGHT_UP.reset(token)

    def _catch_up(self) -> None:
        """Bring every record other processes committed into force, in log order. Our own
        records come in through :meth:`committed`; when this process is the only writer there
        is nothing else to read. Caller holds the lock."""
        if self._only_writer or _CAUGHT_UP.get():
            return
        self.store.add_conflicts(self._read())

    def _read(self, before: int | None = None) -> list[StoredConflict]:
        """Integrate the committed rows after the last one seen (and before ``before``), which
        other processes wrote, or ours whose commit hook has not run yet."""
        found: list[StoredConflict] = []
        for sub in self.store.iter_submissions(KINDS, after=self._seen, before=before):
            self.rows_read += 1
            self._seen = sub.log_index
            # Read directly, not re-checked: the strict parse and canonical re-encoding cost
            # about 200 µs a row, and every process reads every other process's rows.
            document = stored_document(sub.jws)
            audience = (
                None if sub.audience_all else frozenset(document["audience"]) | {sub.party_id}
            )
            found += self._integrate(sub.id, sub.party_id, sub.kind, audience, document["body"])
        if before is not None:
            self._seen = max(self._seen, before - 1)
        return found

    def _integrate(
        self,
        record: str,
        party: str,
        kind: str,
        audience: frozenset[str] | None,
        body: dict[str, Any],
    ) -> list[StoredConflict]:
        """Put one committed record in force; screen it if this process committed it (the
        process that commits a record screens it, whichever of its threads meets it first)."""
        self.holders[record] = Holder(party, audience, kind, bool(body.get("warn_on_conflict")))
        if kind == "operation-status":
            self._set_status(str(body.get("operation")), str(body.get("status")))
            return []
        if kind == "withdrawal":
            self._set_status(str(body.get("record")), "withdrawn")
            return []
        if kind == "resolution":
            self.resolutions.setdefault(str(body.get("conflict")), []).append(record)
            return []
        if kind in ("area-map", "area-vote"):
            is_mine = record in self._pending
            self._pending.pop(record, None)
            return self._map_record(record, party, kind, body, is_mine)
        if kind == "site":
            self.categories[record] = str(body.get("category"))
        if kind in REPEATABLE:
            self._bodies[(party, kind, body_digest(body))] = record
        if kind == "operation":
            # An amendment inherits the status of the version it supersedes.
            old = body.get("supersedes")
            self.status[record] = self.status.get(str(old), operations.PLANNED)
            if old:
                self._set_status(str(old), operations.SUPERSEDED)
        mine = self._pending.pop(record, None)
        parsed = mine if mine is not None else parse(kind, body)
        if parsed is None:
            return []
        raised: list[StoredConflict] = []
        if mine is not None:
            raised = self._conflicts(record, party, parsed)
            self._results[record] = raised
        self._add(record, party, parsed)
        return raised

    def _map_record(
        self, record: str, party: str, kind: str, body: dict[str, Any], mine: bool
    ) -> list[StoredConflict]:
        """Follow a map's versions and votes; put a version in force once all accept it."""
        name = str(body["map"])
        current = self.maps.setdefault(name, areamaps.AreaMap(name))
        # Log order decides races between processes: a second proposal of the same number,
        # or a vote on a version that is no longer the latest, is void.
        if kind == "area-map":
            if int(body["version"]) != current.latest + 1:
                return []
            parsed = areamaps.parse_proposal(body)
            areas = {a["id"]: a for a in body["areas"]}
            version = areamaps.Version(int(body["version"]), record, party, areas, parsed)
            current.versions[version.number] = version
        else:
            if (
                int(body["version"]) != current.latest
                or party in current.versions[current.latest].votes
            ):
                return []
            version = current.versions[current.latest]
            version.votes[party] = (str(body["vote"]), str(body.get("comment", "")))
        members = {p.id for p in self.store.parties() if p.role == "member"}
        newer = current.in_force is None or version.number > current.in_force
        if newer and areamaps.accepted_by_all(version, members):
            return self._put_in_force(current, version, mine)
        return []

    def _put_in_force(
        self, current: areamaps.AreaMap, version: areamaps.Version, mine: bool
    ) -> list[StoredConflict]:
        if current.in_force is not None:
            self.index.remove_record(current.versions[current.in_force].record)
        current.in_force = version.number
        raised: list[StoredConflict] = []
        for area_id, area in version.parsed.items():
            key = f"{version.record}#{area_id}"
            meta: Meta = {"party": version.proposer, "record": version.record}
            if mine:
                raised += self._conflicts(key, version.proposer, area, record=version.record)
            self.index.add(key, area, meta)
        if mine:
            self._results[version.record] = raised
        return raised

    def map_view(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            self._catch_up()
            current = self.maps.get(name)
            if current is None:
                return None
            members = {p.id for p in self.store.parties() if p.role == "member"}
            return areamaps.view(current, members)

    def _set_status(self, record: str, status: str) -> None:
        self.status[record] = status
        if status not in operations.IN_FORCE:
            self.index.remove_record(record)
        volumes = self._volumes.pop(record, None) if status != operations.ACTIVE else None
        if status == operations.COMPLETED and volumes and record in self.holders:
            screening.add_operation(self.flown, record, self.holders[record].party, volumes)

    def same_body(self, party: str, kind: str, body: dict[str, Any]) -> str | None:
        """``party``'s record of ``kind`` with exactly this body, if it is still in force."""
        with self._lock:
            self._catch_up()
            found = self._bodies.get((party, kind, body_digest(body)))
            if found is None or self.status.get(found) in ENDED:
                return None
            return found

    def nearby_sites(self, party: str, site: shapes.Site, within_m: float) -> list[str]:
        """Sites of ``site``'s category in force with it whose cores lie within ``within_m`` of
        its core, that ``party`` sees."""
        probe = replace(site, footprint=site.footprint.with_buffer(within_m))
        with self._lock:
            self._catch_up()
            found = []
            for hit in self.index.near(probe, {"party": party, "record": ""}, kinds=("site",)):
                record = hit.meta.get("record", hit.key)
                same_kind = self.categories.get(record) == site.category
                if same_kind and self.holders[record].visible_to(party):
                    found.append(record)
        return sorted(found)

    def operations_near(self, probe: shapes.Volume) -> list[tuple[str, float]]:
        """Operations in force or flown that meet ``probe``, with their distances."""
        with self._lock:
            self._catch_up()
            found: dict[str, float] = {}
            for index in (self.index, self.flown):
                for hit in index.screen(probe, {"party": "", "record": ""}, kinds=("volume",)):
                    record = hit.meta.get("record", hit.key)
                    found[record] = min(found.get(record, hit.distance_m), hit.distance_m)
        return sorted(found.items(), key=lambda kv: kv[1])

    def operation(self, viewer: str, operation: str) -> tuple[Holder, str] | None:
        """An operation's holder and status, if ``viewer`` may see it."""
        with self._lock:
            self._catch_up()
            holder = self.holders.get(operation)
            if holder is None or holder.kind != "operation" or not holder.visible_to(viewer):
                return None
            return holder, self.status.get(operation, operations.PLANNED)

    def _add(self, key: str, party: str, parsed: Parsed) -> None:
        if isinstance(parsed, list):
            self._volumes[key] = parsed
            screening.add_operation(self.index, key, party, parsed)
        else:
            self.ends[key] = parsed.window.end
            meta: Meta = {"party": party, "record": key}
            self.index.add(key, parsed, meta)

    def _conflicts(
        self, key: str, party: str, parsed: Parsed, record: str | None = None
    ) -> list[StoredConflict]:
        """Screen one item; ``record`` names the submission when ``key`` is one of its parts
        (an area of a map version)."""
        if isinstance(parsed, list):
            raised = screening.screen_operation(self.index, key, party, parsed)
        else:
            meta: Meta = {"party": party, "record": record or key}
            raised = screening.screen_reverse(self.index, key, parsed, meta)
        now = clock.iso(clock.now())
        stored = []
        for c in raised:
            a_key = record or c.a_key
            parties = tuple(p for p in c.parties_to_alert if self._may_alert(p, a_key, c.b_key))
            if not parties:
                continue
            stored.append(
                StoredConflict(
                    str(uuid.uuid4()),
                    c.kind,
                    c.severity,
                    a_key,
                    c.b_key,
                    c.distance_m,
                    c.detail,
                    json.dumps(c.facts, default=float),
                    now,
                    parties,
                )
            )
        return stored

    def _may_alert(self, party: str, a_key: str, b_key: str) -> bool:
        for key in (a_key, b_key):
            holder = self.holders[key]
            if not holder.visible_to(party) and not holder.warn:
                return False
        return True

    def view(
        self, conflict: StoredConflict, viewer: str, acknowledged: bool = False
    ) -> dict[str, Any]:
        """A conflict as ``viewer`` may see it: a record it cannot see is not named.

        ``acknowledged``: the viewer acknowledged the alert that brought it this conflict."""
        hidden = [
            k for k in (conflict.a_id, conflict.b_id) if not self.holders[k].visible_to(viewer)
        ]
        facts = json.loads(conflict.facts)
        detail = conflict.detail
        if hidden:
            kinds = sorted({self.holders[k].kind for k in hidden})
            detail = (
                f"a {' and '.join(kinds)} you cannot see meets your record; ask its "
                "notifier through the agreed channel"
            )
            facts = {}
        return {
            "id": conflict.id,
            "kind": conflict.kind,
            "severity": conflict.severity,
            "state": self.state(conflict, viewer, acknowledged),
            **self.sides(conflict, viewer),
            "record": None if conflict.a_id in hidden else conflict.a_id,
            "other": None if conflict.b_id in hidden else conflict.b_id,
            "distance_m": None if hidden else round(conflict.distance_m, 3),
            "detail": detail,
            "facts": facts,
            "created_at": conflict.created_at,
        }

    def sides(self, conflict: StoredConflict, viewer: str) -> dict[str, str]:
        """The conflict's records by role, those ``viewer`` may see: the same whichever
        arrived first. Of two operations, the viewer's own is ``operation``; of two that are
        not its own, the one notified first."""
        a, b = conflict.a_id, conflict.b_id
        a_kind, b_kind = self.holders[a].kind, self.holders[b].kind
        found: dict[str, str] = {}
        if a_kind == b_kind == "operation":
            first, second = (a, b) if self.holders[a].party == viewer else (b, a)
            found = {"operation": first, "other_operation": second}
        else:
            for key, kind in ((a, a_kind), (b, b_kind)):
                found[SIDES.get(kind, "operation")] = key
        return {role: key for role, key in found.items() if self.holders[key].visible_to(viewer)}

    def state(
        self, conflict: StoredConflict, viewer: str, acknowledged: bool, now: datetime | None = None
    ) -> str:
        """``moot`` once a side the viewer may see is no longer in force (an operation ended
        or superseded, a site, area or movement withdrawn or past its validity), else
        ``resolved`` once a resolution the viewer may see names it, else ``acknowledged`` if
        the viewer acknowledged its alert, else ``open``.

        A side the viewer may not see never makes the conflict moot: that would tell it the
        hidden record's fate, which only the record's audience may learn. Callers catch up
        (:meth:`refresh`) once per read, not once per conflict."""
        when = now or clock.now()
        with self._lock:
            for key in (conflict.a_id, conflict.b_id):
                if not self.holders[key].visible_to(viewer):
                    continue
                if self.status.get(key) in ENDED:
                    return "moot"
                end = self.ends.get(key)
                if end is not None and end < when:
                    return "moot"
            for resolution in self.resolutions.get(conflict.id, ()):
                if self.holders[resolution].visible_to(viewer):
                    return "resolved"
        return "acknowledged" if acknowledged else "open"
