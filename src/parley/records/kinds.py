"""The kinds of record the screening index holds, and what each contributes to it: its geometry
(parsed and checked before anything is stored), who holds it, and the states a conflict between
two of them can be in. Pure: no storage, no hub."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from parley.geo import shapes
from parley.parties import jws
from parley.records import operations

KINDS = (
    "site",
    "operation",
    "area",
    "movement",
    "operation-status",
    "withdrawal",
    "area-map",
    "area-vote",
    "resolution",
)

Parsed = list[shapes.Volume] | shapes.Site | shapes.Area | shapes.Movement


REPEATABLE = ("operation", "movement")
ENDED = ("withdrawn", operations.CANCELLED, operations.COMPLETED, operations.SUPERSEDED)
STATES = ("open", "acknowledged", "resolved", "moot")
# A conflict's sides by the kind of record on each: an operation meets a site, an area (or an
# area map's version), a movement, or another operation.
SIDES = {"site": "site", "area": "area", "area-map": "area", "movement": "movement"}


def body_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(jws.canonical(body)).hexdigest()


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
