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
from typing import Any, Literal, NamedTuple

from parley.geo.index import Hit, Meta, ScreeningIndex
from parley.geo.shapes import Area, Item, Movement, Site, Volume

ConflictKind = Literal["protected-site", "area-rule", "deconfliction", "movement"]
Severity = Literal["critical", "high"]

SEVERITY: dict[ConflictKind, Severity] = {
    "protected-site": "critical",
    "movement": "critical",
    "area-rule": "high",
    "deconfliction": "high",
}


class Conflict(NamedTuple):
    """``a_key`` is the new record being screened, ``b_key`` the record in force it meets.

    A named tuple, like :class:`Hit`: one volume over a dense city can raise thousands.
    """

    kind: ConflictKind
    severity: Severity
    a_key: str
    b_key: str
    parties_to_alert: tuple[str, ...]
    #: Geodesic distance between the cores of the closest pair, metres (0 when they overlap).
    distance_m: float
    detail: str
    #: Machine-readable: clearance_m (negative: overlap depth), threshold_m, volumes (indexes
    #: of the operation's volumes involved), other_volumes (deconfliction), rule (area-rule).
    facts: dict[str, Any]


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
    closest: dict[tuple[ConflictKind, str], tuple[Hit, int]] = {}
    involved: dict[tuple[ConflictKind, str], tuple[set[int], set[int]]] = {}
    own: Meta = {"party": party, "record": op_key}
    for i, volume in enumerate(volumes):
        for hit in index.screen(volume, own):
            kind = _operation_meets(party, hit.meta)
            if kind is None:
                continue
            key = (kind, hit.meta["record"])
            known = closest.get(key)
            if known is None:
                closest[key] = (hit, i)
                continue
            # Several volumes meet the same record: keep the closest, remember them all.
            ours, theirs = involved.setdefault(key, ({known[1]}, {known[0].meta.get("part", 0)}))
            ours.add(i)
            theirs.add(hit.meta.get("part", 0))
            if hit.clearance_m < known[0].clearance_m:
                closest[key] = (hit, i)
    conflicts = []
    for key, (hit, at) in closest.items():
        kind, other = key
        many = involved.get(key)
        facts: dict[str, Any] = {
            "clearance_m": hit.distance_m - hit.threshold_m,
            "threshold_m": hit.threshold_m,
            "volumes": sorted(many[0]) if many else [at],
        }
        alert: tuple[str, ...] = (party,)
        if kind == "deconfliction":
            alert = tuple(sorted({party, hit.meta["party"]}))
            facts["other_volumes"] = sorted(many[1]) if many else [hit.meta.get("part", 0)]
        elif kind == "area-rule":
            facts["rule"] = hit.meta.get("rule")
        # People count volumes from 1, as the CLI and the page print them; facts keep indexes.
        where = f"volume {at + 1} of {op_key}"
        detail = _say(kind, hit, where, other)
        conflicts.append(
            Conflict(kind, SEVERITY[kind], op_key, other, alert, hit.distance_m, detail, facts)
        )
    return _ordered(conflicts)


def screen_reverse(index: ScreeningIndex, key: str, item: Item, meta: Meta) -> list[Conflict]:
    """Conflicts raised by a new site, area or movement against the operations in force."""
    kind = _reverse_kind(item)
    if kind is None:
        return []
    closest: dict[str, Hit] = {}
    volumes: dict[str, set[int]] = {}
    own: Meta = {**meta, "record": meta.get("record", key)}
    for hit in index.screen(item, own, kinds=("volume",)):
        if kind == "area-rule" and not _forbids(item, hit.meta["party"]):
            continue
        op = hit.meta["record"]
        volumes.setdefault(op, set()).add(hit.meta.get("part", 0))
        known = closest.get(op)
        if known is None or hit.clearance_m < known.clearance_m:
            closest[op] = hit
    conflicts = []
    for op, hit in closest.items():
        facts: dict[str, Any] = {
            "clearance_m": hit.distance_m - hit.threshold_m,
            "threshold_m": hit.threshold_m,
            "volumes": sorted(volumes[op]),
        }
        if isinstance(item, Area):
            facts["rule"] = item.rule
        where = f"volume {hit.meta.get('part', 0) + 1} of {op}"
        detail = _say(kind, hit, key, where)
        alert = (hit.meta["party"],)
        conflicts.append(
            Conflict(kind, SEVERITY[kind], key, op, alert, hit.distance_m, detail, facts)
        )
    return _ordered(conflicts)


def _operation_meets(party: str, other: Meta) -> ConflictKind | None:
    kind = other.get("kind")
    if kind == "site":
        return "protected-site"
    if kind == "movement":
        return "movement"
    if kind == "volume":
        return "deconfliction" if other["party"] != party else None
    if kind == "area":
        rule = other.get("rule")
        if rule == "no-operations" or (rule == "no-fly" and other.get("rule_party") == party):
            return "area-rule"
    return None


def _reverse_kind(item: Item) -> ConflictKind | None:
    if isinstance(item, Site):
        return "protected-site"
    if isinstance(item, Movement):
        return "movement"
    if isinstance(item, Area) and item.rule != "delineation":
        return "area-rule"
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
    apart = f"{hit.distance_m:.0f} m apart where {hit.threshold_m:.0f} m are needed"
    return f"{a} {_VERB[kind]} {b}: {apart}"


_RANK = {"critical": 0, "high": 1}


def _ordered(conflicts: list[Conflict]) -> list[Conflict]:
    return sorted(conflicts, key=lambda c: (_RANK[c.severity], c.facts["clearance_m"], c.b_key))
