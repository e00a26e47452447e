"""Area maps: versions proposed by one member, accepted or contested by each of the others.

The map in force is the latest version every member has accepted (its proposer accepts by
proposing). A version can only be proposed as the next number, and only the latest version can
be voted on, so nobody can accept a map that has since been replaced.

    area-map   {"map": "main", "version": 3, "areas": [{"id", "name", "rule", "party"?,
                "group"?, "geometry"}], "valid": {"start", "end"}}
    area-vote  {"map": "main", "version": 3, "vote": "accept" | "contest", "comment": "…"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyproj import Geod

from parley.errors import Conflict, Forbidden, InvalidSubmission, NotFound
from parley.geo import shapes

GEOD = Geod(ellps="WGS84")
VOTES = ("accept", "contest")


@dataclass
class Version:
    number: int
    record: str
    proposer: str
    areas: dict[str, dict[str, Any]]  # area id -> its body (rule, party, group, geometry, ...)
    parsed: dict[str, shapes.Area]
    votes: dict[str, tuple[str, str]] = field(default_factory=dict)  # party -> (vote, comment)


@dataclass
class AreaMap:
    name: str
    versions: dict[int, Version] = field(default_factory=dict)
    in_force: int | None = None

    @property
    def latest(self) -> int:
        return max(self.versions, default=0)


def parse_proposal(body: dict[str, Any]) -> dict[str, shapes.Area]:
    if not isinstance(body.get("map"), str) or not body["map"]:
        raise InvalidSubmission("map must name the map", field="body.map")
    if not isinstance(body.get("version"), int) or body["version"] < 1:
        raise InvalidSubmission("version must be a whole number from 1", field="body.version")
    areas = body.get("areas")
    if not isinstance(areas, list) or not areas:
        raise InvalidSubmission("areas must be a non-empty list", field="body.areas")
    parsed: dict[str, shapes.Area] = {}
    for i, area in enumerate(areas):
        where = f"body.areas[{i}]"
        if not isinstance(area, dict) or not isinstance(area.get("id"), str):
            raise InvalidSubmission("each area has a string id", field=f"{where}.id")
        if area["id"] in parsed:
            raise InvalidSubmission(f"area id {area['id']!r} is used twice", field=f"{where}.id")
        parsed[area["id"]] = shapes.parse_area({**area, "valid": body.get("valid")}, where)
    return parsed


def check_proposal(current: AreaMap | None, body: dict[str, Any]) -> None:
    latest = current.latest if current else 0
    if body["version"] != latest + 1:
        raise Conflict(
            f"map {body['map']!r} is at version {latest}; propose version {latest + 1}",
            field="body.version",
            latest=latest,
        )


def check_vote(current: AreaMap | None, party: str, body: dict[str, Any]) -> None:
    if current is None or body.get("version") not in current.versions:
        raise NotFound(
            f"no version {body.get('version')!r} of map {body.get('map')!r}", field="body.version"
        )
    if body.get("vote") not in VOTES:
        raise InvalidSubmission(f"vote must be one of {', '.join(VOTES)}", field="body.vote")
    if body["version"] != current.latest:
        raise Conflict(
            f"version {body['version']} is not the latest ({current.latest}); vote on that",
            field="body.version",
            latest=current.latest,
        )
    version = current.versions[body["version"]]
    if version.proposer == party:
        raise Forbidden("the proposer accepts its own version by proposing it", field="body.vote")
    if party in version.votes:
        raise Conflict(f"you already voted on version {version.number}", field="body.vote")


def accepted_by_all(version: Version, members: set[str]) -> bool:
    accepting = {p for p, (vote, _) in version.votes.items() if vote == "accept"}
    return members <= accepting | {version.proposer}


def km2(geometry: dict[str, Any]) -> float:
    """Geodesic area on WGS 84, in km²."""
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    total = 0.0
    for rings in polygons:
        for i, ring in enumerate(rings):
            lons, lats = zip(*ring, strict=True)
            area, _ = GEOD.polygon_area_perimeter(lons, lats)
            total += abs(area) if i == 0 else -abs(area)
    return total / 1e6


def diff(old: Version | None, new: Version) -> dict[str, Any]:
    """Areas added, removed and changed between two versions, and km² per rule."""
    before = old.areas if old else {}
    after = new.areas
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(a for a in set(after) & set(before) if after[a] != before[a])

    def per_rule(areas: dict[str, dict[str, Any]]) -> dict[str, float]:
        sums: dict[str, float] = {}
        for area in areas.values():
            rule = area["rule"] + (f":{area['party']}" if area.get("party") else "")
            sums[rule] = sums.get(rule, 0.0) + km2(area["geometry"])
        return sums

    a, b = per_rule(before), per_rule(after)
    return {
        "from": old.number if old else 0,
        "to": new.number,
        "added": added,
        "removed": removed,
        "changed": changed,
        "km2_change_per_rule": {
            r: round(b.get(r, 0) - a.get(r, 0), 3) for r in sorted(set(a) | set(b))
        },
    }


def view(current: AreaMap, members: set[str]) -> dict[str, Any]:
    return {
        "map": current.name,
        "in_force": current.in_force,
        "latest": current.latest,
        "versions": [
            {
                "version": v.number,
                "record": v.record,
                "proposer": v.proposer,
                "areas": sorted(v.areas),
                "votes": {p: {"vote": vote, "comment": c} for p, (vote, c) in v.votes.items()},
                "waiting_for": sorted(members - set(v.votes) - {v.proposer}),
                "status": (
                    "in force"
                    if v.number == current.in_force
                    else "contested"
                    if any(x == "contest" for x, _ in v.votes.values())
                    else "superseded"
                    if v.number < current.latest
                    else "proposed"
                ),
            }
            for v in sorted(current.versions.values(), key=lambda v: v.number)
        ],
    }
