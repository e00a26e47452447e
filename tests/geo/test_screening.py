"""The rules: which meetings are conflicts, their severity, and who is alerted."""

from __future__ import annotations

from typing import Any

import pytest

from parley.geo.index import ScreeningIndex
from parley.geo.screening import add_operation, screen_operation, screen_reverse, volume_key
from parley.geo.shapes import Volume, parse_area, parse_movement, parse_site, parse_volumes

T0, T1, T2 = "2026-11-26T08:00:00Z", "2026-11-26T09:00:00Z", "2026-11-26T10:00:00Z"
ALEPPO = [37.16, 36.20]
SQUARE = [[37.10, 36.15], [37.22, 36.15], [37.22, 36.25], [37.10, 36.25], [37.10, 36.15]]


def volumes(
    *centres: list[float], radius: float = 1000.0, start: str = T0, end: str = T1
) -> list[Volume]:
    return parse_volumes(
        {
            "name": "op",
            "volumes": [
                {
                    "footprint": {"type": "Point", "coordinates": c},
                    "radius_m": radius,
                    "altitude": {"lower_m": 0, "upper_m": 4000},
                    "time": {"start": start, "end": end},
                }
                for c in centres
            ],
        }
    )


def site(
    coords: list[float], radius: float = 200.0, end: str | None = None, start: str = T0
) -> Any:
    return parse_site(
        {
            "category": "hospital",
            "name": "Al-Razi",
            "geometry": {"type": "Point", "coordinates": coords},
            "radius_m": radius,
            "valid": {"start": start, "end": end},
        }
    )


def area(rule: str, **more: Any) -> Any:
    body = {
        "rule": rule,
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
        "valid": {"start": T0, "end": None},
    }
    return parse_area({**body, **more})


def movement(start: str = T0, end: str = T1) -> Any:
    route = {"type": "LineString", "coordinates": [[37.0, 36.0], [37.16, 36.21], [37.3, 36.4]]}
    return parse_movement(
        {"name": "convoy", "route": route, "corridor_m": 100, "time": {"start": start, "end": end}}
    )


@pytest.fixture
def index() -> ScreeningIndex:
    return ScreeningIndex()


def test_protected_site_is_critical_and_alerts_the_operation(index: ScreeningIndex) -> None:
    index.add("site-1", site([37.165, 36.20]), {"party": "unicef"})
    (c,) = screen_operation(index, "op-1", "party-a", volumes(ALEPPO))
    assert (c.kind, c.severity, c.a_key, c.b_key, c.parties_to_alert) == (
        "protected-site",
        "critical",
        "op-1",
        "site-1",
        ("party-a",),
    )
    assert 440 < c.distance_m < 460
    assert c.facts["threshold_m"] == 1200 and c.facts["clearance_m"] < 0
    assert "site-1" in c.detail
    # Counted from 1 in words, as the CLI prints volumes; facts["volumes"] keeps the index.
    assert c.detail.startswith("volume 1 of op-1 ") and c.facts["volumes"] == [0]


def test_site_out_of_time_or_too_far_is_not_a_conflict(index: ScreeningIndex) -> None:
    index.add(
        "expired",
        site(ALEPPO, start="2026-11-01T00:00:00Z", end="2026-11-26T07:59:59Z"),
        {"party": "unicef"},
    )
    index.add("far", site([37.30, 36.20]), {"party": "unicef"})
    assert screen_operation(index, "op-1", "party-a", volumes(ALEPPO)) == []


@pytest.mark.parametrize(
    ("rule", "more", "party", "conflict"),
    [
        ("no-fly", {"party": "party-a"}, "party-a", True),
        ("no-fly", {"party": "party-b"}, "party-a", False),
        ("no-operations", {}, "party-a", True),
        ("no-operations", {}, "party-b", True),
        ("delineation", {"group": "G"}, "party-a", False),
    ],
)
def test_area_rules(
    index: ScreeningIndex, rule: str, more: dict[str, str], party: str, conflict: bool
) -> None:
    index.add("area-1", area(rule, **more), {"party": "co-chair"})
    found = screen_operation(index, "op-1", party, volumes(ALEPPO))
    assert [(c.kind, c.severity, c.parties_to_alert) for c in found] == (
        [("area-rule", "high", (party,))] if conflict else []
    )
    if conflict:
        assert found[0].facts["rule"] == rule and found[0].distance_m == 0


def test_deconfliction_alerts_both_parties_never_the_same_party(index: ScreeningIndex) -> None:
    add_operation(index, "op-b", "party-b", volumes([37.17, 36.2], [37.5, 36.5]))
    add_operation(index, "op-a0", "party-a", volumes(ALEPPO))
    assert volume_key("op-b", 1) in index
    found = screen_operation(index, "op-a", "party-a", volumes(ALEPPO, [37.18, 36.2]))
    (c,) = found
    assert (c.kind, c.a_key, c.b_key, c.parties_to_alert) == (
        "deconfliction",
        "op-a",
        "op-b",
        ("party-a", "party-b"),
    )
    # One conflict for the pair of operations, listing every volume involved.
    assert c.facts["volumes"] == [0, 1] and c.facts["other_volumes"] == [0]


def test_an_operation_is_not_screened_against_itself(index: ScreeningIndex) -> None:
    vs = volumes(ALEPPO)
    add_operation(index, "op-a", "party-b", vs)
    assert screen_operation(index, "op-a", "party-b", vs) == []
    # But a changed operation is screened against the others.
    add_operation(index, "op-b", "party-c", vs)
    assert [c.b_key for c in screen_operation(index, "op-a", "party-b", vs)] == ["op-b"]


def test_movement(index: ScreeningIndex) -> None:
    index.add("convoy-1", movement(), {"party": "wfp"})
    (c,) = screen_operation(index, "op-1", "party-a", volumes(ALEPPO))
    assert (c.kind, c.severity, c.parties_to_alert) == ("movement", "critical", ("party-a",))
    # A movement after the operation's window does not conflict.
    later = ScreeningIndex()
    later.add(
        "convoy-2", movement(T1.replace("09", "10"), T2.replace("10", "11")), {"party": "wfp"}
    )
    assert screen_operation(later, "op-1", "party-a", volumes(ALEPPO)) == []


def test_altitude_above_a_site_ceiling_is_clear(index: ScreeningIndex) -> None:
    index.add("site-1", site(ALEPPO), {"party": "unicef"})
    high = parse_volumes(
        {
            "name": "transit",
            "volumes": [
                {
                    "footprint": {"type": "Point", "coordinates": ALEPPO},
                    "radius_m": 500,
                    "altitude": {"lower_m": 6000, "upper_m": 9000},
                    "time": {"start": T0, "end": T1},
                }
            ],
        }
    )
    assert screen_operation(index, "op-1", "party-a", high) == []


def test_reverse_screening(index: ScreeningIndex) -> None:
    add_operation(index, "op-a", "party-a", volumes(ALEPPO))
    add_operation(index, "op-b", "party-b", volumes([37.5, 36.5]))
    index.add("site-old", site([37.5, 36.5]), {"party": "unicef"})

    (c,) = screen_reverse(index, "site-new", site([37.165, 36.2]), {"party": "unicef"})
    assert (c.kind, c.severity, c.a_key, c.b_key, c.parties_to_alert) == (
        "protected-site",
        "critical",
        "site-new",
        "op-a",
        ("party-a",),
    )
    assert c.facts["volumes"] == [0]

    # Area rules: only the parties they bind.
    assert [
        c.b_key
        for c in screen_reverse(index, "nf", area("no-fly", party="party-a"), {"party": "x"})
    ] == ["op-a"]
    assert screen_reverse(index, "nf", area("no-fly", party="party-b"), {"party": "x"}) == []
    assert [
        c.b_key for c in screen_reverse(index, "no", area("no-operations"), {"party": "x"})
    ] == ["op-a"]
    assert screen_reverse(index, "g", area("delineation", group="G"), {"party": "x"}) == []

    (m,) = screen_reverse(index, "convoy", movement(), {"party": "wfp"})
    assert (m.kind, m.b_key, m.parties_to_alert) == ("movement", "op-a", ("party-a",))

    # Reverse screening looks at operations only: the old site is not a conflict for the new one.
    assert all(
        c.b_key.startswith("op-")
        for c in screen_reverse(index, "s2", site([37.5, 36.5]), {"party": "u"})
    )


def test_conflicts_are_ordered_by_severity_then_clearance(index: ScreeningIndex) -> None:
    index.add("area-1", area("no-operations"), {"party": "co-chair"})
    index.add("site-near", site([37.161, 36.2]), {"party": "unicef"})
    index.add("site-edge", site([37.172, 36.2]), {"party": "unicef"})
    found = screen_operation(index, "op-1", "party-a", volumes(ALEPPO))
    assert [c.b_key for c in found] == ["site-near", "site-edge", "area-1"]
