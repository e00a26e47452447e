"""``parley demo``: a hub on SQLite with a scenario built from the real data in parley/data.

Places, governorates and airfields are real (Natural Earth, GeoNames, OurAirports). Protected
sites are *generated* around real towns, because no public list of Syrian hospitals ships in a
package we can use; every generated site says so in its name.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock, config, setup
from parley.client import document
from parley.errors import ParleyError
from parley.hub import Accepted, Hub
from parley.parties import jws, keys


@dataclass(frozen=True)
class DemoParty:
    id: str
    name: str
    role: str


PARTIES = (
    DemoParty("alpha", "Alpha air operations liaison cell", "member"),
    DemoParty("bravo", "Bravo air operations liaison cell", "member"),
    DemoParty("charlie", "Charlie liaison cell (stays out of designated areas)", "member"),
    DemoParty("relief", "Humanitarian notifier (demo)", "notifier"),
    DemoParty("monitor", "Cease-fire monitoring mission (demo)", "observer"),
)

ATTRIBUTION = (
    "Towns: GeoNames (CC BY 4.0); boundaries: Natural Earth (public domain); "
    "protected sites: generated around real towns for this demo"
)


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


def build(data_dir: Path, url: str, quiet: bool = False) -> dict[str, Any]:
    """Create the scenario once; a second run reuses it and reports the same parties."""
    demo_file = data_dir / "demo.json"
    if demo_file.exists():
        summary: dict[str, Any] = json.loads(demo_file.read_text())
        summary["url"] = url
        return summary
    setup.init(data_dir, None, None)
    settings = config.load(data_dir)
    key_dir = data_dir / "keys"
    key_dir.mkdir(exist_ok=True)
    registered: dict[str, dict[str, str]] = {}
    signers: dict[str, Ed25519PrivateKey] = {}
    for p in PARTIES:
        key = Ed25519PrivateKey.generate()
        path = key_dir / f"{p.id}.key.json"
        keys.write_private_key(path, key)
        keys.write_public_key(keys.public_path_for(path), key.public_key())
        token = setup.add_party(settings, p.id, p.name, p.role, key.public_key())
        registered[p.id] = {
            "id": p.id,
            "name": p.name,
            "role": p.role,
            "token": token,
            "key_file": str(path.resolve()),
        }
        signers[p.id] = key
    counts = asyncio.run(_submit_scenario(settings, signers))
    summary = {
        "url": url,
        "data_dir": str(data_dir.resolve()),
        "verifier_key": setup.verifier_key(settings),
        "parties": list(registered.values()),
        "submissions": counts,
        "attribution": ATTRIBUTION,
    }
    fd = demo_file.open("w")
    with fd:
        json.dump(summary, fd, indent=2)
    demo_file.chmod(0o600)
    return summary


async def _submit_scenario(
    settings: config.Settings, signers: dict[str, Ed25519PrivateKey]
) -> dict[str, int]:
    hub = Hub(settings)
    counts: dict[str, int] = {}
    try:
        by_id = hub.parties()
        for party_id, kind, body, audience in scenario(random.Random(20261125)):
            compact = jws.sign(
                document(kind, party_id, body, audience), signers[party_id], party_id
            )
            (outcome,) = await hub.submit(by_id[party_id], [compact])
            if isinstance(outcome, ParleyError):
                raise outcome
            assert isinstance(outcome, Accepted)
            counts[kind] = counts.get(kind, 0) + 1
    finally:
        hub.close()
    return counts


def scenario(rng: random.Random) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(party, kind, body, audience) in the order they are notified."""
    now = clock.now().replace(microsecond=0)
    towns = places()
    for town in towns[:12]:
        lat, lon = _jitter(rng, town, 1500)
        yield (
            "relief",
            "site",
            {
                "category": "hospital",
                "name": f"{town.name} hospital (generated for the demo)",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "radius_m": 300,
                "valid": {"start": clock.iso(now - timedelta(days=30)), "end": None},
            },
            "all",
        )
    aleppo = towns[0]
    yield (
        "alpha",
        "operation",
        {
            "name": "Alpha patrol north of Aleppo",
            "volumes": [
                {
                    "footprint": {"type": "Point", "coordinates": [aleppo.lon, aleppo.lat + 0.2]},
                    "radius_m": 5000,
                    "altitude": {"lower_m": 1500, "upper_m": 4500},
                    "time": {
                        "start": clock.iso(now + timedelta(hours=2)),
                        "end": clock.iso(now + timedelta(hours=4)),
                    },
                }
            ],
        },
        "all",
    )
    yield (
        "monitor",
        "incident",
        {
            "category": "strike-reported",
            "description": "Explosion reported near a notified site (demo).",
            "location": {"type": "Point", "coordinates": [aleppo.lon + 0.01, aleppo.lat]},
            "time": clock.iso(now - timedelta(hours=6)),
            "evidence": [],
        },
        ["monitor", "alpha"],
    )


def _jitter(rng: random.Random, town: Place, metres: float) -> tuple[float, float]:
    import math

    dlat = rng.uniform(-metres, metres) / 111_320
    dlon = rng.uniform(-metres, metres) / (111_320 * math.cos(math.radians(town.lat)))
    return round(town.lat + dlat, 6), round(town.lon + dlon, 6)


def describe(summary: dict[str, Any]) -> str:
    lines = [f"[bold]parley demo[/] at {summary['url']}  (data: {summary['data_dir']})", ""]
    for p in summary["parties"]:
        lines.append(f"  {p['id']:8} {p['role']:9} token {p['token']}")
    lines += [
        "",
        f"log verifier key: {summary['verifier_key']}",
        f"submissions: {summary['submissions']}",
        "",
        "Try:",
        f"  curl -H 'Authorization: Bearer {summary['parties'][0]['token']}' "
        f"{summary['url']}/api/v1/submissions",
        f"  open {summary['url']}/docs for the API, {summary['url']}/openapi.json for its schema",
        f"Tokens and key files are in {summary['data_dir']}/demo.json.",
        ATTRIBUTION,
    ]
    return "\n".join(lines)
