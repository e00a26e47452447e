"""The hub: one object that the HTTP API, the CLI and the tests all drive.

It owns the store, the writer thread and the caches; every path into the records goes through
its methods, so authentication and audience checks live here and in the store, nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from parley import clock, operations
from parley.config import Settings
from parley.deconfliction import Parsed, Screening, parse
from parley.errors import (
    Conflict,
    Forbidden,
    InvalidSubmission,
    NotFound,
    ParleyError,
    Unauthorized,
)
from parley.geo.shapes import Volume
from parley.hublog import HubLog
from parley.parties import keys, tokens
from parley.store.db import REPLAYED, NewSubmission, Party, Store, Submission
from parley.submissions import Checked, check, token_authenticated
from parley.writer import Writer


@dataclass
class Accepted:
    record: NewSubmission
    index: int
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "sequence": self.index,
            "kind": self.record.kind,
            "received_at": self.record.received_at,
            "entry": base64.b64encode(self.record.entry).decode("ascii"),
            "receipt": f"/api/v1/submissions/{self.record.id}/receipt",
            "conflicts": self.conflicts,
        }


Outcome = Accepted | ParleyError


class Hub:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.database)
        self._parties_lock = threading.Lock()
        self._by_token: dict[str, Party] = {}
        self._by_id: dict[str, Party] = {}
        self._load_parties()
        self.log = HubLog(
            self.store,
            keys.load_private_key(settings.hub_key_path),
            settings.origin,
            settings.checkpoint_interval_s,
        )
        self.screening = Screening(self.store)
        self.alert_listeners: list[Callable[[], None]] = []
        self.writer = Writer(self.store, settings.batch_max, on_commit=self._committed)

    def close(self) -> None:
        self.writer.close()
        self.log.close()
        self.store.close()

    # -- parties ------------------------------------------------------------------------------

    def _load_parties(self) -> None:
        with self._parties_lock:
            self._by_id = {p.id: p for p in self.store.parties()}

    def parties(self) -> dict[str, Party]:
        return self._by_id

    def authenticate(self, token: str | None) -> Party:
        if not token:
            raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        digest = tokens.token_digest(token)
        party = self._by_token.get(digest)
        if party is None:
            # A party registered by the CLI while the hub runs is found on first use.
            party = self.store.party_by_token(digest)
            if party is None:
                raise Unauthorized("the token is not valid for any party")
            with self._parties_lock:
                self._by_token[digest] = party
            if party.id not in self._by_id:
                self._load_parties()
        return party

    def is_party(self, party_id: str) -> bool:
        if party_id not in self._by_id:
            self._load_parties()
        return party_id in self._by_id

    # -- submissions --------------------------------------------------------------------------

    def check(self, party: Party, compact: str) -> tuple[Checked, Parsed | None]:
        checked = check(compact, party, self.is_party, clock.now(), self.settings.max_clock_skew_s)
        body = checked.document["body"]
        kind = checked.record.kind
        parsed = parse(kind, body)
        if isinstance(parsed, list):
            self._check_operation(party, parsed, body)
        elif kind == "operation-status":
            current = self._own_operation(party, body.get("operation"), "body.operation")
            operations.check_transition(str(body["operation"]), current, str(body.get("status")))
        elif kind == "acknowledgement":
            self._check_acknowledgement(party, body.get("record"))
        return checked, parsed

    def _check_operation(self, party: Party, volumes: list[Volume], body: dict[str, Any]) -> None:
        operations.check_horizon(
            volumes,
            clock.now(),
            timedelta(days=self.settings.planning_horizon_days),
            timedelta(seconds=self.settings.max_clock_skew_s),
        )
        if "supersedes" in body:
            current = self._own_operation(party, body["supersedes"], "body.supersedes")
            operations.check_amendable(str(body["supersedes"]), current)
        if "key" in body:
            self._check_picture(party, volumes, body["key"])

    def _own_operation(self, party: Party, operation: object, field: str) -> str:
        """The status of one of ``party``'s own operations; refused otherwise."""
        found = self.screening.operation(party.id, str(operation))
        if not isinstance(operation, str) or found is None:
            raise NotFound(f"no operation {operation!r}", field=field)
        holder, status = found
        if holder.party != party.id:
            raise Forbidden(f"operation {operation} belongs to {holder.party}", field=field)
        return status

    def _check_acknowledgement(self, party: Party, record: object) -> None:
        """A member acknowledges receipt of a site or movement it can see, once."""
        if not isinstance(record, str) or self.store.get_submission(record, party.id) is None:
            raise NotFound(f"no record {record!r}", field="body.record")
        acknowledged = self.store.acknowledged(party.id, [record])
        if record in acknowledged:
            raise Conflict(f"you already acknowledged {record}", field="body.record")

    def _check_picture(self, party: Party, volumes: list[Volume], key: object) -> None:
        """Stale-picture protection: refuse an operation planned without seeing what is there."""
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise InvalidSubmission("key must be a list of record ids", field="body.key")
        unseen = self.screening.unseen(party.id, volumes, key)
        if unseen:
            raise Conflict(
                f"{len(unseen)} record(s) in this space and time are newer than your picture; "
                "fetch them, re-plan if needed, and include them in key",
                field="body.key",
                unseen=unseen,
            )

    async def submit_token_authenticated(
        self, party: Party, kind: str, body: dict[str, Any], audience: str | list[str]
    ) -> Accepted:
        """Record a document from a client that cannot sign (a TAXII client, say)."""

        def checker() -> tuple[Checked, Parsed | None]:
            checked = token_authenticated(kind, party, body, audience, self.is_party, clock.now())
            return checked, parse(kind, body)

        (outcome,) = await self._submit([checker])
        if isinstance(outcome, ParleyError):
            raise outcome
        return outcome

    async def submit(self, party: Party, compacts: Sequence[str]) -> list[Outcome]:
        return await self._submit([functools.partial(self.check, party, c) for c in compacts])

    async def _submit(
        self, checkers: Sequence[Callable[[], tuple[Checked, Parsed | None]]]
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = []
        ready: list[Checked] = []
        geometry: dict[str, Parsed] = {}
        for checker in checkers:
            try:
                checked, parsed = checker()
                ready.append(checked)
                if parsed is not None:
                    geometry[checked.record.id] = parsed
                outcomes.append(None)
            except ParleyError as exc:
                outcomes.append(exc)
        if ready:
            self.screening.expect(geometry)
            future = self.writer.submit([c.record for c in ready])
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
                        else Accepted(checked.record, index)
                    )
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        stored = {a.record.id for a in accepted}
        self.screening.forget([i for i in geometry if i not in stored])
        arrivals = [a.record.id for a in accepted if a.record.id in geometry]
        if arrivals:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(None, self.screening.screen, arrivals)
            for a in accepted:
                a.conflicts = found.get(a.record.id, [])
            for listener in self.alert_listeners:
                listener()
        return [o for o in outcomes if o is not None]

    def _committed(self, records: Sequence[NewSubmission], indices: Sequence[int]) -> None:
        """Called by the writer thread after each commit; the log and screening hook in here."""
        self.log.notify()

    # -- reads --------------------------------------------------------------------------------

    def submission(self, viewer: Party, submission_id: str) -> Submission:
        found = self.store.get_submission(submission_id, viewer.id)
        if found is None:
            # Same answer whether it does not exist or lies outside the viewer's audience.
            raise NotFound(f"no submission {submission_id!r}")
        return found
