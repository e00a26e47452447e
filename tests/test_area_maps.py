"""Area maps over real HTTP on both backends: proposals, votes, the version in force, diffs."""

from __future__ import annotations

from typing import Any

import pytest
from pyproj import Geod

from .conftest import PartyHandle, Server
from .test_screening_hub import operation
from .test_workflows import refused

VALID = {"start": "2026-01-01T00:00:00Z", "end": None}


def square(lon: float, lat: float, size: float = 0.2) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def proposal(version: int, areas: list[dict[str, Any]]) -> dict[str, Any]:
    return {"map": "main", "version": version, "areas": areas, "valid": VALID}


def km2(geometry: dict[str, Any]) -> float:
    lons, lats = zip(*geometry["coordinates"][0], strict=True)
    return abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) / 1e6


def test_a_map_is_in_force_once_every_member_accepts_its_latest_version(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    north = {
        "id": "north",
        "name": "North",
        "rule": "no-fly",
        "party": "charlie",
        "geometry": square(39.0, 35.0),
    }
    buffer = {
        "id": "buffer",
        "name": "Buffer",
        "rule": "no-operations",
        "geometry": square(40.0, 35.0),
    }
    with server.client(alpha) as a, server.client(bravo) as b, server.client(charlie) as c:
        c.submit("operation", operation(39.1, 35.1, 1000))
        a.submit("area-map", proposal(1, [north]))
        assert c.get("/api/v1/alerts")["items"] == []  # proposed, not in force
        refused(lambda: b.submit("area-map", proposal(1, [north])), 409, "propose version 2")
        refused(
            lambda: a.submit("area-vote", {"map": "main", "version": 1, "vote": "accept"}),
            403,
            "proposer",
        )
        refused(
            lambda: b.submit("area-vote", {"map": "main", "version": 7, "vote": "accept"}),
            404,
            "no version 7",
        )
        refused(
            lambda: a.submit("area-map", proposal(2, [north]), ["alpha", "bravo"]), 400, "audience"
        )
        b.submit("area-vote", {"map": "main", "version": 1, "vote": "accept"})
        c.submit(
            "area-vote",
            {"map": "main", "version": 1, "vote": "contest", "comment": "north edge is wrong"},
        )
        shown = a.get("/api/v1/maps/main")
        assert shown["in_force"] is None and shown["versions"][0]["status"] == "contested"

        moved = {**north, "geometry": square(39.05, 35.0)}
        b.submit("area-map", proposal(2, [moved, buffer]))
        refused(
            lambda: a.submit("area-vote", {"map": "main", "version": 1, "vote": "accept"}),
            409,
            "not the latest",
        )
        a.submit("area-vote", {"map": "main", "version": 2, "vote": "accept"})
        assert a.get("/api/v1/maps/main")["versions"][1]["waiting_for"] == ["charlie"]
        c.submit("area-vote", {"map": "main", "version": 2, "vote": "accept"})
        shown = a.get("/api/v1/maps/main")
        assert shown["in_force"] == 2 and shown["versions"][1]["status"] == "in force"

        # the map in force now applies, also to charlie's operation notified before it
        (told,) = c.get("/api/v1/alerts")["items"]
        assert told["conflict"]["kind"] == "area-rule"
        assert [
            x["kind"] for x in c.submit("operation", operation(39.15, 35.1, 500))["conflicts"]
        ] == ["area-rule"]

        layer = a.get("/api/v1/areas")
        assert sorted(f["id"] for f in layer["features"]) == ["main/2/buffer", "main/2/north"]
        assert all(f["properties"]["status"] == "in force" for f in layer["features"])

        change = a.get("/api/v1/maps/main/diff", **{"from": 1, "to": 2})
        assert change["added"] == ["buffer"] and change["changed"] == ["north"]
        assert change["km2_change_per_rule"]["no-operations"] == pytest.approx(
            km2(buffer["geometry"]), abs=0.001
        )
        assert change["km2_change_per_rule"]["no-fly:charlie"] == pytest.approx(
            km2(moved["geometry"]) - km2(north["geometry"]), abs=0.01
        )
