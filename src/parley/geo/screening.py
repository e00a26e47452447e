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
    found: dict[tuple[ConflictKind, str], list[tuple[int, Hit]]] = {}
    own: Meta = {"party": party, "record": op_key}
    for i, volume in enumerate(volumes):
        for hit in index.screen(volume, own):
            kind = _operation_meets(party, hit.meta)
            if kind is not None:
                found.setdefault((kind, hit.meta.get("record", hit.key)), []).append((i, hit))
    conflicts = []
    for (kind, other), pairs in found.items():
        closest_volume, closest = min(pairs, key=lambda p: p[1].clearance_m)
        alert: tuple[str, ...] = (party,)
        if kind == "deconfliction":
            alert = tuple(sorted({party, closest.meta["party"]}))
        facts = _facts(closest, sorted({i for i, _ in pairs}), pairs)
        conflicts.append(
            Conflict(
                kind,
                SEVERITY[kind],
                op_key,
                other,
                alert,
                closest.distance_m,
                _say(kind, closest, f"volume {closest_volume} of {op_key}", other),
                facts,
            )
        )
    return _ordered(conflicts)


def screen_reverse(index: ScreeningIndex, key: str, item: Item, meta: Meta) -> list[Conflict]:
    """Conflicts raised by a new site, area or movement against the operations in force."""
    kind = _reverse_kind(item)
    if kind is None:
        return []
    found: dict[str, list[Hit]] = {}
    own: Meta = {**meta, "record": meta.get("record", key)}
    for hit in index.screen(item, own, kinds=("volume",)):
        if kind == "area-rule" and not _forbids(item, hit.meta["party"]):
            continue
        found.setdefault(hit.meta.get("record", hit.key), []).append(hit)
    conflicts = []
    for op, hits in found.items():
        closest = min(hits, key=lambda h: h.clearance_m)
        volumes = sorted({h.meta.get("part", 0) for h in hits})
        party = closest.meta["party"]
        conflicts.append(
            Conflict(
                kind,
                SEVERITY[kind],
                key,
                op,
                (party,),
                closest.distance_m,
                _say(kind, closest, key, f"volume {closest.meta.get('part', 0)} of {op}"),
                {
                    "clearance_m": closest.clearance_m,
                    "threshold_m": closest.threshold_m,
                    "volumes": volumes,
                },
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


def _facts(closest: Hit, volumes: list[int], pairs: list[tuple[int, Hit]]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "clearance_m": closest.clearance_m,
        "threshold_m": closest.threshold_m,
        "volumes": volumes,
    }
    if closest.meta.get("kind") == "volume":
        facts["other_volumes"] = sorted({h.meta.get("part", 0) for _, h in pairs})
    if closest.meta.get("kind") == "area":
        facts["rule"] = closest.meta.get("rule")
    return facts


def _say(kind: ConflictKind, hit: Hit, a: str, b: str) -> str:
    what = {
        "protected-site": "comes within the protected buffer of",
        "area-rule": "enters area",
        "deconfliction": "overlaps",
        "movement": "comes within the corridor of",
    }[kind]
    if hit.distance_m == 0:
        where = "they overlap"
    else:
        where = f"{hit.distance_m:,.0f} m apart, {-hit.clearance_m:,.0f} m inside the margin"
    return f"{a} {what} {b} ({where})"


def _ordered(conflicts: list[Conflict]) -> list[Conflict]:
    rank = {"critical": 0, "high": 1}
    return sorted(conflicts, key=lambda c: (rank[c.severity], c.facts["clearance_m"], c.b_key))
