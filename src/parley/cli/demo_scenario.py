"""The demo's scenario: real towns (GeoNames) and governorates (Natural Earth) from parley/data,
protected sites generated around the towns (each says so in its name), and the day's operations,
movements, areas and incidents, as steps a party signs and submits."""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from parley import clock

Item = tuple[str, dict[str, Any], Any, str | None]  # kind, body, audience, name to remember
Step = tuple[str, list[Item]]  # one party's batch


@dataclass(frozen=True)
class Place:
    name: str
    country: str
    lat: float
    lon: float
    population: int


def places(country: str | None = "SY") -> list[Place]:
    text = resources.files("parley.data").joinpath("places.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    found = [
        Place(
            r["name"],
            r["country"],
            float(r["latitude"]),
            float(r["longitude"]),
            int(r["population"]),
        )
        for r in rows
    ]
    return [p for p in found if country is None or p.country == country]


SITE_MIX = [  # category, share, radius range in metres
    ("hospital", 0.18, (300, 600)),
    ("health-post", 0.12, (100, 250)),
    ("school", 0.35, (100, 200)),
    ("shelter", 0.12, (150, 400)),
    ("water", 0.10, (100, 300)),
    ("humanitarian-office", 0.05, (100, 150)),
    ("cultural", 0.08, (200, 2000)),
]


def _sites(rng: random.Random, towns: list[Place], n: int, since: str) -> list[Item]:
    """Generated sites around real towns, more where more people live."""
    weights = [math.sqrt(t.population) for t in towns]
    categories = [c for c, _, _ in SITE_MIX]
    shares = [w for _, w, _ in SITE_MIX]
    radii = {c: r for c, _, r in SITE_MIX}
    items: list[Item] = []
    counter: dict[tuple[str, str], int] = {}
    for town in rng.choices(towns, weights, k=n):
        category = rng.choices(categories, shares)[0]
        counter[(town.name, category)] = counter.get((town.name, category), 0) + 1
        lat, lon = _jitter(rng, town, 2500)
        restricted = rng.random() < 0.05
        body: dict[str, Any] = {
            "category": category,
            "name": f"{town.name} {category} {counter[(town.name, category)]} (generated)",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "radius_m": rng.randint(*radii[category]),
            "valid": {"start": since, "end": None},
        }
        if restricted:
            body["warn_on_conflict"] = True
        items.append(("site", body, ["relief", "bravo"] if restricted else "all", None))
    return items


def _governorate(name: str) -> dict[str, Any]:
    text = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    for feature in json.loads(text)["features"]:
        if feature["properties"]["name"].startswith(name):
            geometry: dict[str, Any] = feature["geometry"]
            return geometry
    raise KeyError(name)


def _volume(
    lon: float,
    lat: float,
    radius: float,
    start: datetime,
    hours: float,
    band: tuple[float, float] = (1500, 4500),
) -> dict[str, Any]:
    return {
        "footprint": {"type": "Point", "coordinates": [lon, lat]},
        "radius_m": radius,
        "altitude": {"lower_m": band[0], "upper_m": band[1]},
        "time": {"start": clock.iso(start), "end": clock.iso(start + timedelta(hours=hours))},
    }


def scenario(rng: random.Random, ids: dict[str, str]) -> Iterator[Step]:
    """The demo, as batches in the order they are notified. ``ids`` fills in as they land."""
    now = clock.now().replace(microsecond=0)
    since = clock.iso(now - timedelta(days=30))
    towns = places()
    by_name = {t.name: t for t in towns}
    aleppo, idlib, homs = by_name["Aleppo"], by_name["Idlib"], by_name["Homs"]
    sites = _sites(rng, towns, 500, since)
    first_hospital = next(i for i, s in enumerate(sites) if s[1]["category"] == "hospital")
    sites[first_hospital] = (
        "site",
        {
            **sites[first_hospital][1],
            "name": "Aleppo central hospital (generated)",
            "geometry": {"type": "Point", "coordinates": [aleppo.lon + 0.004, aleppo.lat + 0.002]},
            "radius_m": 400,
        },
        "all",
        "aleppo-hospital",
    )
    for start in range(0, len(sites), 100):
        yield "relief", sites[start : start + 100]
    valid = {"start": since, "end": None}
    areas = [
        {
            "id": "idlib",
            "name": "Idlib governorate: Charlie does not fly",
            "rule": "no-fly",
            "party": "charlie",
            "geometry": _governorate("Idlib"),
        },
        {
            "id": "aleppo",
            "name": "Aleppo governorate: Charlie does not fly",
            "rule": "no-fly",
            "party": "charlie",
            "geometry": _governorate("Aleppo"),
        },
        {
            "id": "undof",
            "name": "UNDOF area of separation: no operations",
            "rule": "no-operations",
            "geometry": _governorate("UNDOF"),
        },
        {
            "id": "sector-north",
            "name": "Monitoring sector north (delineation)",
            "rule": "delineation",
            "group": "monitoring sector north",
            "geometry": _governorate("Hamah"),
        },
    ]
    yield (
        "alpha",
        [("area-map", {"map": "main", "version": 1, "areas": areas, "valid": valid}, "all", None)],
    )
    for member in ("bravo", "charlie"):
        yield (
            member,
            [
                (
                    "area-vote",
                    {
                        "map": "main",
                        "version": 1,
                        "vote": "accept",
                        "comment": "agreed at the joint meeting",
                    },
                    "all",
                    None,
                )
            ],
        )
    soon = now + timedelta(hours=2)
    yield (
        "relief",
        [
            (
                "movement",
                {
                    "name": "Convoy Homs to Aleppo (demo)",
                    "route": {
                        "type": "LineString",
                        "coordinates": [
                            [homs.lon, homs.lat],
                            [36.75, 35.13],
                            [aleppo.lon, aleppo.lat],
                        ],
                    },
                    "corridor_m": 1000,
                    "time": {"start": clock.iso(soon), "end": clock.iso(soon + timedelta(hours=8))},
                },
                "all",
                "convoy",
            )
        ],
    )
    yield (
        "alpha",
        [
            (
                "operation",
                {
                    "name": "Alpha patrol over Aleppo",
                    "volumes": [_volume(aleppo.lon, aleppo.lat + 0.01, 3000, soon, 3)],
                },
                "all",
                "alpha-aleppo",
            ),
            (
                "operation",
                {
                    "name": "Alpha reconnaissance, Hama road",
                    "volumes": [
                        _volume(36.75, 35.13, 2000, soon + timedelta(hours=1), 2, (300, 2500))
                    ],
                },
                "all",
                "alpha-hama",
            ),
        ],
    )
    yield (
        "bravo",
        [
            (
                "operation",
                {
                    "name": "Bravo transit north of Aleppo",
                    "volumes": [
                        _volume(
                            aleppo.lon + 0.03, aleppo.lat + 0.04, 4000, soon + timedelta(hours=1), 2
                        )
                    ],
                },
                "all",
                "bravo-aleppo",
            ),
            (
                "operation",
                {
                    "name": "Bravo training flight, area of separation",
                    "volumes": [_volume(35.85, 33.1, 2500, soon + timedelta(hours=4), 2)],
                },
                "all",
                None,
            ),
        ],
    )
    yield (
        "charlie",
        [
            (
                "operation",
                {
                    "name": "Charlie patrol near Idlib",
                    "volumes": [_volume(idlib.lon, idlib.lat, 3000, soon, 2)],
                },
                "all",
                "charlie-idlib",
            ),
        ],
    )
    yield (
        "relief",
        [
            (
                "site",
                {
                    "category": "shelter",
                    "name": "Aleppo north displacement shelter (generated, notified late)",
                    "geometry": {"type": "Point", "coordinates": [aleppo.lon, aleppo.lat + 0.02]},
                    "radius_m": 300,
                    "valid": {"start": clock.iso(now), "end": None},
                },
                "all",
                None,
            )
        ],
    )
    yield "alpha", [("acknowledgement", {"record": ids["aleppo-hospital"]}, "all", None)]
    # a proposal still waiting for the others' answers
    yield (
        "bravo",
        [
            (
                "area-map",
                {
                    "map": "main",
                    "version": 2,
                    "valid": valid,
                    "areas": [
                        *areas,
                        {
                            "id": "lattakia",
                            "name": "Lattakia governorate: Charlie does not fly (proposed)",
                            "rule": "no-fly",
                            "party": "charlie",
                            "geometry": _governorate("Lattakia"),
                        },
                    ],
                },
                "all",
                None,
            )
        ],
    )
    yield (
        "monitor",
        [
            (
                "incident",
                {
                    "category": "strike-reported",
                    "description": "Explosion reported near a notified site (demo).",
                    "location": {"type": "Point", "coordinates": [aleppo.lon + 0.01, aleppo.lat]},
                    "time": clock.iso(now - timedelta(hours=6)),
                    "evidence": [],
                },
                ["monitor", "alpha"],
                None,
            )
        ],
    )


def _jitter(rng: random.Random, town: Place, metres: float) -> tuple[float, float]:
    dlat = rng.uniform(-metres, metres) / 111_320
    dlon = rng.uniform(-metres, metres) / (111_320 * math.cos(math.radians(town.lat)))
    return round(town.lat + dlat, 6), round(town.lon + dlon, 6)
