"""The hub: one object that the HTTP API, the CLI and the tests all drive.

It owns the store, the writer thread and the caches; every path into the records goes through
its methods, so authentication and audience checks live here and in the store, nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import shapely

from parley import clock
from parley.config import Settings
from parley.errors import (
    Conflict,
    NotFound,
    ParleyError,
    Unauthorized,
    Unprocessable,
)
from parley.geo.region import Region
from parley.hub import checkers, hubrecords, metrics, rules, stix_refs
from parley.hub import parties as lifecycle
from parley.hub.admission import Accepted, Checked, check, token_authenticated
from parley.hub.alerts import render
from parley.hub.context import Context
from parley.hub.cosigning import Cosigners, Witness
from parley.hub.deconfliction import Screening
from parley.hub.deliveries import DeliveryLog
from parley.hub.housekeeping import Housekeeping
from parley.hub.hublog import HubLog
from parley.hub.refusals import Refusals
from parley.hub.rules import Prepared
from parley.hub.webhooks import Deliveries
from parley.hub.webhooks import load_or_create_key as load_webhook_key
from parley.hub.writer import Writer
from parley.parties import keys, tokens
from parley.records.kinds import Parsed
from parley.store.db import (
    REPLAYED,
    NewSubmission,
    Party,
    Store,
    Submission,
    WithinCommit,
)
from parley.store.parties import PartyKey

Outcome = Accepted | ParleyError
REGION_TTL_S = 1.0  # how soon a change of the area of service made elsewhere applies


class Hub:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.database)
        self._parties_lock = threading.Lock()
        self._by_token: dict[str, Party] = {}
        self._by_id: dict[str, Party] = {}
        self._keys: dict[str, list[PartyKey]] = {}
        self._party_stamp = lifecycle.Stamp(settings.data_dir)
        self._parties_read = time.monotonic()
        self.refusals = Refusals(settings.data_dir)
        self._load_parties()
        self.log = HubLog(
            self.store,
            keys.load_private_key(settings.hub_key_path),
            settings.origin,
            settings.checkpoint_interval_s,
            settings.latest_checkpoint_path,
            Cosigners([Witness.parse(w) for w in settings.witnesses], settings.witness_timeout_s),
        )
        self.log.listeners.append(metrics.checkpoint_published)
        self.screening = Screening(
            self.store, only_writer=self.store.sqlite and settings.workers <= 1
        )
        self.region: Region | None = None
        self._region_seq: int | None = None
        self._region_read = -REGION_TTL_S
        self.alert_listeners: list[Callable[[], None]] = []
        # Before anything can deliver an alert; its rounds use the writer made below.
        self.deliveries = DeliveryLog(
            self.store,
            keys.load_private_key(settings.hub_key_path),
            lambda records: self.writer.submit(records),
            settings.checkpoint_interval_s,
        )
        self.webhooks = Deliveries(
            self.store,
            load_webhook_key(settings.webhook_key_path),
            functools.partial(render, self.screening),
            allow_private=settings.webhooks_allow_private,
            on_delivered=lambda party, alert: self.deliveries.delivered(party, [alert]),
        )
        self.alert_listeners.append(self.webhooks.wake)
        self.context = Context(settings, self.store, self.screening, lambda: self.region)
        self.housekeeping = Housekeeping(
            self.context,
            self.alert_listeners,
            settings.housekeeping_interval_s,
            timedelta(hours=settings.reminder_after_h),
        )
        # Steps run inside each group's transaction (the TAXII index registers one).
        self.within_commit: list[WithinCommit] = []
        self.writer = Writer(
            self.store, settings.batch_max, on_commit=self._committed, within=self.within_commit
        )
        # Started by `parley serve` (use_check_helpers), not by the CLI or an in-process app.
        self.checkers: checkers.Checkers | None = None

    def use_check_helpers(self) -> None:
        """Check signed submissions in helper processes on this machine's spare cores."""
        self.checkers = checkers.start(self.settings.workers)

    def detach_check_helpers(self) -> None:
        """Before the event loop that used the helpers closes (they stay up for another)."""
        if self.checkers is not None:
            self.checkers.detach()

    def close(self) -> None:
        if self.checkers is not None:
            self.checkers.close()
        self.housekeeping.close()
        self.webhooks.close()
        self.deliveries.close()  # its last round goes through the writer
        self.writer.close()
        self.log.close()
        self.refusals.close()
        self._party_stamp.close()
        self.store.close()

    # -- parties ------------------------------------------------------------------------------

    def _load_parties(self) -> None:
        keys_of: dict[str, list[PartyKey]] = {}
        for k in self.store.all_party_keys():
            keys_of.setdefault(k.party_id, []).append(k)
        with self._parties_lock:
            self._by_id = {p.id: p for p in self.store.parties()}
            self._keys = keys_of

    def parties(self) -> dict[str, Party]:
        return self._by_id

    def authenticate(self, token: str | None, source: str | None = None) -> Party:
        """The party whose token this is, if it may act now; ``source`` (the client's address)
        is what refusals are counted by."""
        if not token:
            metrics.REFUSED_AUTHENTICATIONS.inc()
            self.refusals.refused(None, source, "no token")
            raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        self._follow_party_changes()
        digest = tokens.token_digest(token)
        party = self._by_token.get(digest)
        if party is None:
            # A party registered by the CLI while the hub runs is found on first use.
            party = self.store.party_by_token(digest)
            if party is None:
                metrics.REFUSED_AUTHENTICATIONS.inc()
                self.refusals.refused(None, source, "unknown token")
                raise Unauthorized("the token is not valid for any party")
            with self._parties_lock:
                self._by_token[digest] = party
            if party.id not in self._by_id:
                self._load_parties()
        try:
            lifecycle.refuse_barred(party)
        except ParleyError as exc:
            metrics.REFUSED_AUTHENTICATIONS.inc()
            self.refusals.refused(party.id, source, exc.detail)
            raise
        return party

    def _follow_party_changes(self) -> None:
        """Forget cached tokens and parties when `parley party ...` changed one (the data
        directory's stamp, one stat), and every PARTIES_TTL_S anyway (a change made with another
        data directory on the same database)."""
        now = time.monotonic()
        if self._party_stamp.changed() or now - self._parties_read > lifecycle.PARTIES_TTL_S:
            self._parties_read = now
            with self._parties_lock:
                self._by_token = {}
            self._load_parties()

    def is_party(self, party_id: str) -> bool:
        if party_id not in self._by_id:
            self._load_parties()
        return party_id in self._by_id

    # -- submissions --------------------------------------------------------------------------

    def _signer(self, party: Party, at: str) -> Party:
        """``party`` with the key in force at ``at``, as a receipt's verifier will pick it:
        around a rotation that is not the row's newest key."""
        in_force = lifecycle.key_at(self._keys.get(party.id, []), at) or party.public_key
        return party if in_force == party.public_key else replace(party, public_key=in_force)

    def check(self, party: Party, compact: str) -> tuple[Checked, Prepared]:
        now = clock.now()
        at = clock.iso(now)
        signer = self._signer(party, at)
        try:
            checked = check(compact, signer, self.is_party, now, self.settings.max_clock_skew_s)
        except Unprocessable as exc:
            if not exc.detail.startswith("the signature does not verify"):
                raise
            lifecycle.explain_signature(self.store, signer, compact, exc, at)
            raise
        return checked, rules.prepare(self.context, party, checked)

    async def submit_token_authenticated(
        self, party: Party, kind: str, body: dict[str, Any], audience: str | list[str]
    ) -> Accepted:
        """Record a document from a client that cannot sign (a TAXII client, say)."""

        def checker() -> tuple[Checked, Prepared]:
            checked = token_authenticated(kind, party, body, audience, self.is_party, clock.now())
            return checked, rules.prepare(self.context, party, checked)

        (outcome,) = await self._submit([checker])
        if isinstance(outcome, ParleyError):
            raise outcome
        return outcome

    async def submit_token_authenticated_all(
        self,
        party: Party,
        kind: str,
        bodies: Sequence[dict[str, Any]],
        audience: str | list[str],
        admitted: Callable[[int, str], None] | None = None,
        within: WithinCommit | None = None,
        built: Sequence[Checked | None] | None = None,
    ) -> list[Outcome]:
        """Record several such documents as one group (one commit; outcomes in order), as a
        TAXII envelope's objects are. ``admitted`` learns each admitted body's (position,
        submission id) before the group is written, and ``within`` runs inside its commit
        (see :meth:`Writer.submit`). ``built`` may hold a body's record already built by
        :func:`token_authenticated` off the event loop (None: build it here)."""

        def checker(i: int, body: dict[str, Any]) -> tuple[Checked, Prepared]:
            checked = built[i] if built is not None else None
            if checked is None:
                checked = token_authenticated(
                    kind, party, body, audience, self.is_party, clock.now()
                )
            prepared = rules.prepare(self.context, party, checked)
            if admitted is not None:
                admitted(i, checked.record.id)
            return checked, prepared

        checkers = [functools.partial(checker, i, b) for i, b in enumerate(bodies)]
        return await self._submit(checkers, within)

    async def submit(self, party: Party, compacts: Sequence[str]) -> list[Outcome]:
        found = await self._check_elsewhere(party, compacts)
        return await self._submit(
            [functools.partial(self._prepare, party, c, found[i]) for i, c in enumerate(compacts)]
        )

    async def _check_elsewhere(self, party: Party, compacts: Sequence[str]) -> list[Checked | None]:
        """The helpers' records for ``compacts`` (checkers.py); None where this thread must
        check one itself: no helper answered, or a check refused it."""
        if self.checkers is None:
            return [None] * len(compacts)
        now, skew = clock.now(), self.settings.max_clock_skew_s
        signer = self._signer(party, clock.iso(now))
        job = checkers.Job(tuple(compacts), signer, frozenset(self._by_id), now, skew)
        found = await self.checkers.run(job)
        return found if found is not None else [None] * len(compacts)

    def _prepare(
        self, party: Party, compact: str, checked: Checked | None
    ) -> tuple[Checked, Prepared]:
        if checked is None:
            return self.check(party, compact)
        return checked, rules.prepare(self.context, party, checked)

    async def _submit(
        self,
        checkers: Sequence[Callable[[], tuple[Checked, Prepared]]],
        within: WithinCommit | None = None,
    ) -> list[Outcome]:
        self.refresh_region()
        outcomes: list[Outcome | None] = []
        ready: list[Checked] = []
        geometry: dict[str, Parsed] = {}
        prepared: dict[str, Prepared] = {}
        await self.screening.caught_up.wait()
        with self.screening.one_view(), stix_refs.one_group():
            for checker in checkers:
                try:
                    checked, ready_to_store = checker()
                    ready.append(checked)
                    prepared[checked.record.id] = ready_to_store
                    if ready_to_store.parsed is not None:
                        geometry[checked.record.id] = ready_to_store.parsed
                    outcomes.append(None)
                except ParleyError as exc:
                    outcomes.append(exc)
        if ready:
            # Map proposals and votes have no geometry of their own but may put a map in force,
            # which this process must then screen.
            pending: dict[str, Parsed | None] = dict(geometry)
            pending.update(
                {c.record.id: None for c in ready if c.record.kind in ("area-map", "area-vote")}
            )
            self.screening.expect(pending)
            future = self.writer.submit([c.record for c in ready], within)
            indices = await asyncio.wrap_future(future)
            pairs = iter(zip(ready, indices, strict=True))
            for i, outcome in enumerate(outcomes):
                if outcome is None:
                    checked, index = next(pairs)
                    outcomes[i] = (
                        Conflict(
                            "this nonce was already used by this party: the submission is a "
                            "replay and was not stored",
                            field="nonce",
                        )
                        if index == REPLAYED
                        else Accepted(
                            checked.record, index, flags=prepared[checked.record.id].flags
                        )
                    )
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        stored = {a.record.id for a in accepted}
        self.screening.forget([i for i in geometry if i not in stored])
        arrivals = [a.record.id for a in accepted if a.record.id in geometry]
        if arrivals:
            # The writer's commit hook screened them: this only reads the answers, so it
            # runs here rather than through a thread hand-off.
            with metrics.SCREENING_SECONDS.time():
                found = self.screening.screen(arrivals)
            for a in accepted:
                a.conflicts = found.get(a.record.id, [])
        followed = [(a, prepared[a.record.id]) for a in accepted if prepared[a.record.id].follow_up]
        if followed:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, rules.follow_up, self.context, followed)
        if arrivals or followed:
            for listener in self.alert_listeners:
                listener()
        metrics.submissions(
            (o.record.kind, metrics.ACCEPTED)
            if isinstance(o, Accepted)
            else (None, metrics.REFUSED)
            for o in outcomes
            if o is not None
        )
        return [o for o in outcomes if o is not None]

    def _committed(self, records: Sequence[NewSubmission], indices: Sequence[int]) -> None:
        """Called by the writer thread after each commit; the log and screening hook in here."""
        self.screening.committed(records, indices)
        self.log.notify()

    def draft_site(self, party: Party, body: dict[str, Any]) -> list[str]:
        """The flags a site would get (possible duplicates), checked but not stored."""
        self.refresh_region()
        return rules.draft_site(self.context, party, body)

    def check_position(self, lat: float, lon: float) -> None:
        """Refuse a position wholly outside the area this hub serves."""
        self.refresh_region()
        if self.region is not None:
            self.region.check(shapely.Point(lon, lat), "q")

    # -- the area of service ------------------------------------------------------------------

    def refresh_region(self, force: bool = False) -> None:
        """Follow ``parley region set`` (a hub entry another process may have written), at most
        once a second: one query per submission cost a TAXII add of 10,000 objects 33 s on
        PostgreSQL."""
        now = time.monotonic()
        if not force and now - self._region_read < REGION_TTL_S:
            return
        self._region_read = now
        latest = self.store.latest_of_kind(hubrecords.REGION)
        seq = None if latest is None else latest.seq
        if seq != self._region_seq:
            self.region = hubrecords.region_of(latest)
            self._region_seq = seq

    # -- reads --------------------------------------------------------------------------------

    def submission(self, viewer: Party, submission_id: str) -> Submission:
        found = self.store.get_submission(submission_id, viewer.id)
        if found is None:
            # Same answer whether it does not exist or lies outside the viewer's audience.
            raise NotFound(f"no submission {submission_id!r}")
        return found
