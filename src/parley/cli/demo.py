"""``parley demo``: a hub on SQLite with a scenario built from the real data in parley/data.

Places, governorates and airfields are real (Natural Earth, GeoNames, OurAirports). Protected
sites are *generated* around real towns, because no public list of Syrian hospitals ships in a
package we can use; every generated site says so in its name.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import Progress

from parley import clock, config
from parley.client.http import document
from parley.errors import ParleyError
from parley.geo.region import Region
from parley.hub import setup
from parley.hub.admission import Accepted
from parley.hub.core import Hub
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


WITNESS_DIR = "witnesses"


def witness_name(party_id: str) -> str:
    return f"witness.parley.demo/{party_id}"


class DemoWitnesses:
    """A C2SP witness for each member, each with its own data directory under the demo's,
    served on a free loopback port by a thread of this process; the hub is configured with
    them, so every checkpoint it hands out carries their cosignatures."""

    def __init__(self, data_dir: Path, settings: config.Settings) -> None:
        import uvicorn

        from parley.witness import datadir
        from parley.witness.app import app_for

        # The demo's witnesses trust the demo's own fresh log on first use by design: their
        # warning about it is for real deployments, not for someone trying the demo.
        logging.getLogger("parley.witness").setLevel(logging.ERROR)
        self.servers: list[tuple[uvicorn.Server, threading.Thread]] = []
        self.lines: list[str] = []
        self.described: list[dict[str, str]] = []
        try:
            for p in PARTIES:
                if p.role != "member":
                    continue
                wdir = data_dir / WITNESS_DIR / p.id
                if not datadir.key_path(wdir).exists():
                    datadir.init(wdir, witness_name(p.id))
                    datadir.add_log(wdir, settings.origin, setup.verifier_key(settings))
                key = datadir.load_signer(wdir).verifier().key_string()
                url = self._serve(uvicorn, app_for(wdir))
                self.lines.append(f"{url} {key}")
                self.described.append({"party": p.id, "url": url, "verifier_key": key})
        except BaseException:
            self.stop()
            raise

    def _serve(self, uvicorn: Any, app: Any) -> str:
        # Port 0: the kernel picks a free port, read back once the socket is bound.
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="parley-demo-witness", daemon=True)
        thread.start()
        self.servers.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("a demo witness did not start")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    def configure(self, settings: config.Settings) -> config.Settings:
        return replace(settings, witnesses=tuple(self.lines))

    def stop(self) -> None:
        for server, _ in self.servers:
            server.should_exit = True
        for _, thread in self.servers:
            thread.join(timeout=5)
        self.servers = []


def build(data_dir: Path, url: str, quiet: bool = False) -> dict[str, Any]:
    """Create the scenario once; a second run reuses it and reports the same parties."""
    demo_file = data_dir / "demo.json"
    if demo_file.exists():
        summary: dict[str, Any] = json.loads(demo_file.read_text())
        summary["url"] = url
        return summary
    setup.init(data_dir, None, None)
    settings = config.load(data_dir)
    syria = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    setup.record_region(settings, Region.from_geojson(syria, 50_000, "Syria"))
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
    witnesses = DemoWitnesses(data_dir, settings)
    try:
        counts = asyncio.run(_submit_scenario(witnesses.configure(settings), signers))
    finally:
        witnesses.stop()
    summary = {
        "url": url,
        "data_dir": str(data_dir.resolve()),
        "verifier_key": setup.verifier_key(settings),
        "parties": list(registered.values()),
        "submissions": counts,
        "conflicts": _conflict_counts(settings),
        "witnesses": [
            {"party": w["party"], "verifier_key": w["verifier_key"]} for w in witnesses.described
        ],
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
    ids: dict[str, str] = {}
    try:
        by_id = hub.parties()
        with Progress(transient=True) as progress:
            task = progress.add_task("notifying the demo scenario", total=None)
            # Lazy: later steps refer to records earlier steps created.
            for party_id, items in scenario(random.Random(20261125), ids):
                compacts = [
                    jws.sign(document(kind, party_id, body, audience), signers[party_id], party_id)
                    for kind, body, audience, _ in items
                ]
                outcomes = await hub.submit(by_id[party_id], compacts)
                for (kind, _, _, name), outcome in zip(items, outcomes, strict=True):
                    if isinstance(outcome, ParleyError):
                        raise outcome
                    assert isinstance(outcome, Accepted)
                    if name:
                        ids[name] = outcome.record.id
                    counts[kind] = counts.get(kind, 0) + 1
                progress.advance(task)
        # The last checkpoint, cosigned by the witnesses, before the hub stops: every receipt
        # the demo hands out is cosigned, even before anything new is submitted.
        deadline = time.monotonic() + 30
        while hub.log.published_size() < hub.store.log_size() and time.monotonic() < deadline:
            hub.log.notify()
            time.sleep(0.05)
    finally:
        hub.close()
    return counts


Item = tuple[str, dict[str, Any], Any, str | None]  # kind, body, audience, name to remember
Step = tuple[str, list[Item]]  # one party's batch

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


def _conflict_counts(settings: config.Settings) -> dict[str, int]:
    from parley.store.db import Store

    store = Store(settings.database)
    try:
        return store.conflict_counts()
    finally:
        store.close()


def _counts(counts: object) -> str:
    """``12 site, 3 operation``: counts as words, not a Python dict."""
    if isinstance(counts, dict):
        return ", ".join(f"{n} {what}" for what, n in counts.items()) or "none"
    return str(counts)


def parley_command() -> str:
    """How to call parley from here: ``parley`` when it is on PATH, else this environment's
    own script (``.venv/bin/parley``), relative to the working directory when under it."""
    import os
    import shlex
    import shutil
    import sys

    if shutil.which("parley"):
        return "parley"
    script = Path(sys.executable).parent / "parley"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m parley"
    try:
        shown = str(script.relative_to(Path.cwd()))
    except ValueError:
        shown = str(script)
    return shlex.quote(shown if os.sep in shown else str(script))


def describe(summary: dict[str, Any]) -> str:
    from rich.markup import escape

    url = summary["url"]
    lines = [f"[bold]parley demo[/] at {escape(url)}  (data: {escape(summary['data_dir'])})", ""]
    for p in summary["parties"]:
        lines.append(escape(f"  {p['id']:8} {p['role']:9} token {p['token']}"))
    parley = parley_command()
    by_id = {p["id"]: p for p in summary["parties"]}

    def as_party(party_id: str, command: str) -> str:
        p = by_id.get(party_id) or summary["parties"][0]
        return escape(
            f"  PARLEY_HUB={url} PARLEY_PARTY={p['id']} PARLEY_TOKEN={p['token']} "
            f"PARLEY_KEY={p['key_file']} {parley} {command}"
        )

    lines += [
        "",
        escape(f"log verifier key: {summary['verifier_key']}"),
        f"submissions: {escape(_counts(summary['submissions']))}",
        f"conflicts raised: {escape(_counts(summary.get('conflicts', {})))}",
        *(
            escape(f"witness of {w['party']}: {w.get('url', '(not running)')} {w['verifier_key']}")
            for w in summary.get("witnesses", [])
        ),
        f"witness policy (receipts checked against it): {escape(url)}/log/policy",
        "",
        "Try:",
        f"  open {escape(url)}/ and sign in as alpha with its token and key file",
        escape(
            f"  curl -H 'Authorization: Bearer {summary['parties'][0]['token']}' "
            f"{url}/api/v1/submissions"
        ),
        f"  open {escape(url)}/docs for the API, {escape(url)}/openapi.json for its schema",
        as_party("alpha", "alerts --follow"),
        as_party("alpha", "conflicts"),
        as_party("relief", "site list"),
        as_party("monitor", "incident list"),
        escape(f"Tokens and key files are in {summary['data_dir']}/demo.json."),
        ATTRIBUTION,
    ]
    return "\n".join(lines)
