"""/api/v1/incidents/counts: incidents the caller may see, counted per day, area and party."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from importlib import resources
from typing import Any

import shapely
from fastapi import APIRouter, Request

from parley.api.auth import CurrentParty, hub_of

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@cache
def _governorates() -> tuple[list[str], shapely.STRtree, list[Any]]:
    text = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    features = json.loads(text)["features"]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    return [f["properties"]["name"] for f in features], shapely.STRtree(shapes), shapes


def area_of(lon: float, lat: float) -> str:
    names, tree, _ = _governorates()
    hits = tree.query(shapely.Point(lon, lat), predicate="intersects")
    return names[int(hits[0])] if len(hits) else "outside Syria's governorates"


@router.get("/counts")
def counts(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Per UTC day of the incident, per governorate (Natural Earth), per reporting party."""
    hub = hub_of(request)
    per_day: Counter[str] = Counter()
    per_area: Counter[str] = Counter()
    per_party: Counter[str] = Counter()
    cursor = -1
    while True:
        page = hub.store.list_submissions(party.id, after=cursor, limit=1000, kind="incident")
        for sub in page:
            body = sub.body
            lon, lat = body["location"]["coordinates"][:2]
            per_day[str(body["time"])[:10]] += 1
            per_area[area_of(lon, lat)] += 1
            per_party[sub.party_id] += 1
        if len(page) < 1000:
            break
        cursor = page[-1].log_index
    return {
        "total": sum(per_party.values()),
        "per_day": dict(sorted(per_day.items())),
        "per_area": dict(per_area.most_common()),
        "per_party": dict(per_party.most_common()),
    }
