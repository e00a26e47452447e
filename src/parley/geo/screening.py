"""The rules: which hits are conflicts, how severe, and who is told.

| new thing          | meets (in force)                      | conflict       | who is told     |
| ------------------ | ------------------------------------- | -------------- | --------------- |
| operation volume   | protected site                        | protected-site | operation party |
| operation volume   | area: no-fly for that party, no-ops   | area-rule      | operation party |
| operation volume   | another party's operation volume      | deconfliction  | both parties    |
| operation volume   | movement corridor                     | movement       | operation party |
| site, area, move   | operation volumes in force            | same kinds     | operation party |

Delineation areas and a party's own operations never conflict. Only the operation's party is
told about sites, areas and movements: it is the one that can change the plan, and telling a
notifier where an operation will be would leak it.

One conflict is raised per pair of records and kind, however many volumes meet; its distance
and clearance are those of the closest pair, and ``facts["volumes"]`` lists the volumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from parley.geo.index import Hit, Meta, ScreeningIndex, kind_of
from parley.geo.shapes import Area, Item, Volume

ConflictKind = Literal["protected-site", "area-rule", "deconfliction", "movement"]
Severity = Literal["critical", "high"]

SEVERITY: dict[ConflictKind, Severity] = {
    "protected-site": "critical",
    "movement": "critical",
    "area-rule": "high",
    "deconfliction": "high",
}


@dataclass(frozen=True)
class Conflict:
    """``a_key`` is the new record being screened, ``b_key`` the record in force it meets."""

    kind: ConflictKind
    severity: Severity
    a_key: str
    b_key: str
    parties_to_alert: tuple[str, ...]
    #: Geodesic distance between the cores of the closest pair, metres (0 when they overlap).
    distance_m: float
    detail: str
    #: Machine-readable: clearance_m (negative: overlap depth), threshold_m, volumes (indexes
    #: of the operation's volumes involved), other_volumes, rule.
    facts: dict[str, Any] = field(default_factory=dict)


def volume_key(op_key: str, index: int) -> str:
    """The index key of an operation's volume."""
    return f"{op_key}#{index}"


def add_operation(
    index: ScreeningIndex, op_key: str, party: str, volumes: Sequence[Volume]
) -> None:
    """Put an operation's volumes in force (after screening it, when it is accepted)."""
    for i, volume in enumerate(volumes):
        meta: Meta = {"party": party, "record": op_key, "part": i}
        index.add(volume_key(op_key, i), volume, meta)


def screen_operation(
    index: ScreeningIndex, op_key: str, party: str, volumes: Sequence[Volume]
) -> list[Conflict]:
    """Conflicts raised by a new (or changed) operation against everything in force."""
    # (kind, other record) -> [closest hit, its volume, our volumes, their volumes]
    groups: dict[tuple[ConflictKind, str], list[Any]] = {}
    own: Meta = {"party": party, "record": op_key}
    for i, volume in enumerate(volumes):
        for hit in index.screen(volume, own):
            kind = _operation_meets(party, hit.meta)
            if kind is None:
                continue
            group = groups.get((kind, hit.meta["record"]))
            if group is None:
                groups[(kind, hit.meta["record"])] = [hit, i, {i}, {hit.meta.get("part", 0)}]
                continue
            if hit.clearance_m < group[0].clearance_m:
                group[0], group[1] = hit, i
            group[2].add(i)
            group[3].add(hit.meta.get("part", 0))
    conflicts = []
    for (kind, other), (hit, volume, ours, theirs) in groups.items():
        alert: tuple[str, ...] = (party,)
        facts: dict[str, Any] = {
            "clearance_m": hit.clearance_m,
            "threshold_m": hit.threshold_m,
            "volumes": sorted(ours),
        }
        if kind == "deconfliction":
            alert = tuple(sorted({party, hit.meta["party"]}))
            facts["other_volumes"] = sorted(theirs)
        elif kind == "area-rule":
            facts["rule"] = hit.meta.get("rule")
        where = f"volume {volume} of {op_key}"
        conflicts.append(
            Conflict(
                kind,
                SEVERITY[kind],
                op_key,
                other,
                alert,
                hit.distance_m,
                _say(kind, hit, where, other),
                facts,
            )
        )
    return _ordered(conflicts)


def screen_reverse(index: ScreeningIndex, key: str, item: Item, meta: Meta) -> list[Conflict]:
    """Conflicts raised by a new site, area or movement against the operations in force."""
    kind = _reverse_kind(item)
    if kind is None:
        return []
    # operation record -> [closest hit, its volumes]
    groups: dict[str, list[Any]] = {}
    own: Meta = {**meta, "record": meta.get("record", key)}
    for hit in index.screen(item, own, kinds=("volume",)):
        if kind == "area-rule" and not _forbids(item, hit.meta["party"]):
            continue
        group = groups.get(hit.meta["record"])
        if group is None:
            groups[hit.meta["record"]] = [hit, {hit.meta.get("part", 0)}]
            continue
        if hit.clearance_m < group[0].clearance_m:
            group[0] = hit
        group[1].add(hit.meta.get("part", 0))
    conflicts = []
    for op, (hit, volumes) in groups.items():
        where = f"volume {hit.meta.get('part', 0)} of {op}"
        facts = {
            "clearance_m": hit.clearance_m,
            "threshold_m": hit.threshold_m,
            "volumes": sorted(volumes),
        }
        if kind == "area-rule":
            facts["rule"] = item.rule if isinstance(item, Area) else None
        conflicts.append(
            Conflict(
                kind,
                SEVERITY[kind],
                key,
                op,
                (hit.meta["party"],),
                hit.distance_m,
                _say(kind, hit, key, where),
                facts,
            )
        )
    return _ordered(conflicts)


def _operation_meets(party: str, other: Meta) -> ConflictKind | None:
    match other.get("kind"):
        case "site":
            return "protected-site"
        case "movement":
            return "movement"
        case "volume":
            return "deconfliction" if other["party"] != party else None
        case "area":
            rule = other.get("rule")
            if rule == "no-operations" or (rule == "no-fly" and other.get("rule_party") == party):
                return "area-rule"
            return None
    return None


def _reverse_kind(item: Item) -> ConflictKind | None:
    match kind_of(item):
        case "site":
            return "protected-site"
        case "movement":
            return "movement"
        case "area":
            assert isinstance(item, Area)
            return None if item.rule == "delineation" else "area-rule"
    return None


def _forbids(area: Item, party: str) -> bool:
    assert isinstance(area, Area)
    return area.rule == "no-operations" or (area.rule == "no-fly" and area.party == party)


_VERB: dict[ConflictKind, str] = {
    "protected-site": "is within the protected distance of",
    "area-rule": "is in breach of the area rule with",
    "deconfliction": "is within the separation of",
    "movement": "is within the corridor of",
}


def _say(kind: ConflictKind, hit: Hit, a: str, b: str) -> str:
    if hit.distance_m == 0:
        return f"{a} {_VERB[kind]} {b}: they overlap"
    return (
        f"{a} {_VERB[kind]} {b}: {hit.distance_m:.0f} m apart where "
        f"{hit.threshold_m:.0f} m are needed"
    )


def _ordered(conflicts: list[Conflict]) -> list[Conflict]:
    rank = {"critical": 0, "high": 1}
    return sorted(conflicts, key=lambda c: (rank[c.severity], c.facts["clearance_m"], c.b_key))
