"""Screening inside the hub: every site, area, movement and operation is screened on arrival.

The index (parley.geo) lives in memory, is rebuilt from the store at start-up and caught up from
it before each screening, so records committed by another process on the same PostgreSQL are in
force too. Conflicts are stored with the parties they alert. Audiences hold: a party is alerted
about a record it cannot see only when the record's author asked for it ("warn anyone who
conflicts"), and then learns only that such a record exists, never which or where.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parley import clock
from parley.geo import screening, shapes
from parley.geo.index import Meta, ScreeningIndex
from parley.parties import jws
from parley.store.db import Store, StoredConflict

KINDS = ("site", "operation", "area", "movement")

Parsed = list[shapes.Volume] | shapes.Site | shapes.Area | shapes.Movement


def parse(kind: str, body: dict[str, Any]) -> Parsed | None:
    """Validate a record's geometry before it is stored; None for kinds without one."""
    if kind == "operation":
        return shapes.parse_volumes(body)
    if kind == "site":
        return shapes.parse_site(body)
    if kind == "area":
        return shapes.parse_area(body)
    if kind == "movement":
        return shapes.parse_movement(body)
    return None


@dataclass(frozen=True)
class Holder:
    """Who notified a record and who may see it."""

    party: str
    audience: frozenset[str] | None  # None: every party
    kind: str
    warn: bool

    def visible_to(self, party: str) -> bool:
        return self.audience is None or party in self.audience


@dataclass(frozen=True)
class Arrival:
    """A record this process just committed, with its parsed geometry."""

    id: str
    index: int
    parsed: Parsed


class Screening:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.index = ScreeningIndex()
        self.holders: dict[str, Holder] = {}
        self._lock = threading.Lock()
        self._seen = -1
        with self._lock:
            self._catch_up({})

    def screen(self, arrivals: Sequence[Arrival]) -> dict[str, list[dict[str, Any]]]:
        """Screen newly committed records; answer each one's conflicts as its author sees them."""
        mine = {a.id: a for a in arrivals}
        with self._lock:
            found = self._catch_up(mine)
        self.store.add_conflicts(found)
        answers: dict[str, list[dict[str, Any]]] = {a.id: [] for a in arrivals}
        for conflict in found:
            author = self.holders[conflict.a_id].party
            if author in conflict.parties:
                answers[conflict.a_id].append(self.view(conflict, author))
        return answers

    def refresh(self) -> None:
        with self._lock:
            self._catch_up({})

    def _catch_up(self, mine: dict[str, Arrival]) -> list[StoredConflict]:
        """Bring every committed record into force in log order, screening our own arrivals
        (other processes screened theirs)."""
        found: list[StoredConflict] = []
        for sub in self.store.iter_submissions(KINDS, after=self._seen):
            self._seen = sub.log_index
            document = jws.Parsed(sub.jws, stored=True).payload
            audience = (
                None if sub.audience_all else frozenset(document["audience"]) | {sub.party_id}
            )
            body = document["body"]
            self.holders[sub.id] = Holder(
                sub.party_id, audience, sub.kind, bool(body.get("warn_on_conflict"))
            )
            arrival = mine.get(sub.id)
            parsed = arrival.parsed if arrival else parse(sub.kind, body)
            if parsed is None:
                continue
            if arrival is not None:
                found += self._conflicts(sub.id, sub.party_id, parsed)
            self._add(sub.id, sub.party_id, parsed)
        return found

    def _add(self, key: str, party: str, parsed: Parsed) -> None:
        if isinstance(parsed, list):
            screening.add_operation(self.index, key, party, parsed)
        else:
            meta: Meta = {"party": party, "record": key}
            self.index.add(key, parsed, meta)

    def _conflicts(self, key: str, party: str, parsed: Parsed) -> list[StoredConflict]:
        if isinstance(parsed, list):
            raised = screening.screen_operation(self.index, key, party, parsed)
        else:
            raised = screening.screen_reverse(self.index, key, parsed, {"party": party})
        now = clock.iso(clock.now())
        stored = []
        for c in raised:
            parties = tuple(p for p in c.parties_to_alert if self._may_alert(p, c))
            if not parties:
                continue
            stored.append(
                StoredConflict(
                    str(uuid.uuid4()),
                    c.kind,
                    c.severity,
                    c.a_key,
                    c.b_key,
                    c.distance_m,
                    c.detail,
                    json.dumps(c.facts, default=float),
                    now,
                    parties,
                )
            )
        return stored

    def _may_alert(self, party: str, c: screening.Conflict) -> bool:
        for key in (c.a_key, c.b_key):
            holder = self.holders[key]
            if not holder.visible_to(party) and not holder.warn:
                return False
        return True

    def view(self, conflict: StoredConflict, viewer: str) -> dict[str, Any]:
        """A conflict as ``viewer`` may see it: a record it cannot see is not named."""
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
            "record": None if conflict.a_id in hidden else conflict.a_id,
            "other": None if conflict.b_id in hidden else conflict.b_id,
            "distance_m": None if hidden else round(conflict.distance_m, 3),
            "detail": detail,
            "facts": facts,
            "created_at": conflict.created_at,
        }
