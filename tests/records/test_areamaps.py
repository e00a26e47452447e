"""Area maps, rule by rule: versions proposed in order, voted on by every other member, in force
once all accept the latest; a contested or superseded version is shown as such."""

from __future__ import annotations

from typing import Any

import pytest

from parley.errors import Conflict, Forbidden, InvalidSubmission, NotFound, ParleyError
from parley.records import areamaps
from parley.records.areamaps import AreaMap, Version

MEMBERS = {"alpha", "bravo", "charlie"}
VALID = {"start": "2026-03-01T00:00:00Z", "end": None}


def square(lon: float, lat: float, side: float = 0.1) -> dict[str, Any]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


NORTH = {"id": "north", "name": "North", "rule": "no-fly", "party": "charlie"}
BUFFER = {"id": "buffer", "name": "Buffer", "rule": "no-operations"}


def version(number: int, proposer: str, votes: dict[str, str] | None = None) -> Version:
    areas = {"north": {**NORTH, "geometry": square(39.0, 35.0)}}
    return Version(
        number, f"rec-{number}", proposer, areas, {}, {p: (v, "") for p, v in (votes or {}).items()}
    )


def area_map(*versions: Version, in_force: int | None = None) -> AreaMap:
    return AreaMap("main", {v.number: v for v in versions}, in_force)


PROPOSALS = [
    # (story, map so far, version proposed, refused with)
    ("the first version of a new map is 1", None, 1, None),
    ("a new map cannot start at 2", None, 2, Conflict),
    ("the next version follows the latest", area_map(version(1, "alpha")), 2, None),
    (
        "two members racing for version 1: the second loses",
        area_map(version(1, "alpha")),
        1,
        Conflict,
    ),
    ("versions cannot be skipped", area_map(version(1, "alpha")), 3, Conflict),
]


@pytest.mark.parametrize(
    ("current", "number", "error"), [r[1:] for r in PROPOSALS], ids=[r[0] for r in PROPOSALS]
)
def test_proposals_come_in_order(
    current: AreaMap | None, number: int, error: type[ParleyError] | None
) -> None:
    body = {"map": "main", "version": number}
    if error is None:
        areamaps.check_proposal(current, body)
        return
    latest = current.latest if current else 0
    with pytest.raises(error, match=f"propose version {latest + 1}") as caught:
        areamaps.check_proposal(current, body)
    assert caught.value.extra["latest"] == latest


TWO = area_map(
    version(1, "alpha", {"bravo": "contest"}), version(2, "bravo", {"charlie": "accept"})
)
VOTES = [
    # (story, map, voter, body, refused with, words)
    ("another member accepts the latest version", TWO, "alpha", (2, "accept"), None, ""),
    ("another member contests the latest version", TWO, "alpha", (2, "contest"), None, ""),
    (
        "the proposer accepts by proposing, not by voting",
        TWO,
        "bravo",
        (2, "accept"),
        Forbidden,
        "proposer",
    ),
    ("a member votes only once", TWO, "charlie", (2, "contest"), Conflict, "already voted"),
    (
        "nobody votes on a replaced version",
        TWO,
        "charlie",
        (1, "accept"),
        Conflict,
        "not the latest",
    ),
    ("a version that does not exist", TWO, "alpha", (7, "accept"), NotFound, "no version 7"),
    ("a map that does not exist", None, "alpha", (1, "accept"), NotFound, "no version 1"),
    ("'abstain' is not a vote", TWO, "alpha", (2, "abstain"), InvalidSubmission, "vote must be"),
]


@pytest.mark.parametrize(
    ("current", "party", "vote", "error", "words"),
    [r[1:] for r in VOTES],
    ids=[r[0] for r in VOTES],
)
def test_votes(
    current: AreaMap | None,
    party: str,
    vote: tuple[int, str],
    error: type[ParleyError] | None,
    words: str,
) -> None:
    body = {"map": "main", "version": vote[0], "vote": vote[1]}
    if error is None:
        areamaps.check_vote(current, party, body)
        return
    with pytest.raises(error, match=words) as caught:
        areamaps.check_vote(current, party, body)
    assert type(caught.value) is error


ACCEPTANCE = [
    # (story, proposer, votes, in force?)
    ("proposed, nobody has voted yet", "alpha", {}, False),
    ("one of two others accepted", "alpha", {"bravo": "accept"}, False),
    ("every other member accepted", "alpha", {"bravo": "accept", "charlie": "accept"}, True),
    ("one contest blocks the map", "alpha", {"bravo": "accept", "charlie": "contest"}, False),
    (
        "a non-member's acceptance does not stand in",
        "alpha",
        {"bravo": "accept", "x": "accept"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("proposer", "votes", "in_force"), [r[1:] for r in ACCEPTANCE], ids=[r[0] for r in ACCEPTANCE]
)
def test_a_version_is_in_force_once_every_member_accepts(
    proposer: str, votes: dict[str, str], in_force: bool
) -> None:
    assert areamaps.accepted_by_all(version(1, proposer, votes), MEMBERS) is in_force


STATUSES = [
    # (story, map, expected status per version, waiting for per version)
    (
        "the only version, just proposed",
        area_map(version(1, "alpha")),
        ["proposed"],
        [["bravo", "charlie"]],
    ),
    (
        "a contested version stays contested",
        area_map(version(1, "alpha", {"charlie": "contest"})),
        ["contested"],
        [["bravo"]],
    ),
    (
        "an older version, replaced, is superseded",
        area_map(version(1, "alpha"), version(2, "bravo")),
        ["superseded", "proposed"],
        [["bravo", "charlie"], ["alpha", "charlie"]],
    ),
    (
        "the map in force is shown as such even while a newer one waits",
        area_map(
            version(1, "alpha", {"bravo": "accept", "charlie": "accept"}),
            version(2, "bravo"),
            in_force=1,
        ),
        ["in force", "proposed"],
        [[], ["alpha", "charlie"]],
    ),
]


@pytest.mark.parametrize(
    ("current", "statuses", "waiting"),
    [r[1:] for r in STATUSES],
    ids=[r[0] for r in STATUSES],
)
def test_what_members_see_of_each_version(
    current: AreaMap, statuses: list[str], waiting: list[list[str]]
) -> None:
    shown = areamaps.view(current, MEMBERS)
    assert [v["status"] for v in shown["versions"]] == statuses
    assert [v["waiting_for"] for v in shown["versions"]] == waiting
    assert shown["latest"] == len(statuses)


def test_the_difference_between_versions_names_areas_and_km2_per_rule() -> None:
    old = version(1, "alpha")
    new = Version(
        2,
        "rec-2",
        "bravo",
        {
            "north": {**NORTH, "geometry": square(39.05, 35.0)},
            "buffer": {**BUFFER, "geometry": square(40.0, 35.0, 0.2)},
        },
        {},
    )
    change = areamaps.diff(old, new)
    assert (change["from"], change["to"]) == (1, 2)
    assert (change["added"], change["removed"], change["changed"]) == (["buffer"], [], ["north"])
    per_rule = change["km2_change_per_rule"]
    # Moved 0.05° east: changed, but the same size; a 0.2° square at 35°N is about 405 km².
    assert per_rule["no-fly:charlie"] == 0.0
    assert per_rule["no-operations"] == pytest.approx(4 * 101.4, rel=0.01)
    first = areamaps.diff(None, old)
    assert first["from"] == 0 and first["added"] == ["north"]


PARSE = [
    ("a map with one area", {}, None),
    ("no map name", {"map": ""}, "body.map"),
    ("version 0", {"version": 0}, "body.version"),
    ("no areas", {"areas": []}, "body.areas"),
    ("an area without an id", {"areas": [{"name": "x"}]}, "body.areas[0].id"),
    (
        "two areas with one id",
        {"areas": [{**BUFFER, "geometry": square(40, 35)}, {**BUFFER, "geometry": square(41, 35)}]},
        "body.areas[1].id",
    ),
]


@pytest.mark.parametrize(("changes", "field"), [r[1:] for r in PARSE], ids=[r[0] for r in PARSE])
def test_proposals_are_read_strictly(changes: dict[str, Any], field: str | None) -> None:
    body = {
        "map": "main",
        "version": 1,
        "areas": [{**BUFFER, "geometry": square(40, 35)}],
        "valid": VALID,
        **changes,
    }
    if field is None:
        assert list(areamaps.parse_proposal(body)) == ["buffer"]
        return
    with pytest.raises(InvalidSubmission) as caught:
        areamaps.parse_proposal(body)
    assert caught.value.extra["field"] == field
