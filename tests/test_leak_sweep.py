"""An audience leak sweep over every GET endpoint, and the visible set through every read path,
on both backends (issue 10: "make these probes part of the suite").

The sweep builds a world of restricted records with seeded random audiences (the seed is printed;
set ``PARLEY_SWEEP_SEED`` to replay one) whose bodies carry unique canary strings, plus records
that refer to them, then asks every GET route of the application, as every party, with every
value its path parameters can take. No canary and no restricted record id may reach a party
outside that record's audience, in any body or header. A request that itself names a hidden id
must be answered exactly as the same request naming an id that does not exist.

Routes are enumerated from the application itself, so a new endpoint joins the sweep on its own;
a new path parameter the sweep cannot fill fails it until a value is given below.
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from fastapi import routing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley import clock
from parley.api.app import create_app
from parley.client.http import Client
from parley.hub import setup
from parley.intel import collections as intel_collections

from .conftest import PartyHandle, Server
from .test_audience_rules import incident_report
from .test_screening_hub import HOSPITAL, east_of, operation, site

TAXII = "application/taxii+json;version=2.1"
MORE_PARTIES = [("medic", "notifier"), ("watch", "observer")]
# Routes that serve no record: files of the web page and its base map.
NOT_RECORDS = {"/static/{name:path}", "/basemap/{name}.geojson", "/docs/oauth2-redirect"}
VARYING_HEADERS = {"date", "content-length"}
PER_ROUTE = 3  # probes of one templated route per viewer; keeps the sweep to seconds


@dataclass
class Secret:
    id: str
    kind: str
    canary: str
    audience: frozenset[str]  # the stored audience, author included
    stix_id: str | None = None
    received_at: str | None = None  # shown by the log (docs/entries.md), nowhere else


@dataclass
class World:
    seed: int
    parties: dict[str, PartyHandle]
    secrets: list[Secret] = field(default_factory=list)
    public: list[str] = field(default_factory=list)
    stix_public: list[str] = field(default_factory=list)

    def hidden_from(self, party: str) -> list[Secret]:
        return [s for s in self.secrets if party not in s.audience]


def more_parties(server: Server, parties: dict[str, PartyHandle]) -> dict[str, PartyHandle]:
    """Two parties of each of the notifier and observer roles, three members."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    everyone = dict(parties)
    for party_id, role in MORE_PARTIES:
        key = Ed25519PrivateKey.generate()
        token = setup.add_party(server.settings, party_id, party_id.title(), role, key.public_key())
        everyone[party_id] = PartyHandle(party_id, role, token, key)
    return everyone


def _canary() -> str:
    return f"canary{uuid.uuid4().hex}"


def _near(rng: random.Random) -> tuple[float, float]:
    lon, lat = east_of(*HOSPITAL, rng.uniform(0, 4000))
    return lon, lat + rng.uniform(-0.02, 0.02)


def _indicator(name: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": name,
        "pattern": "[ipv4-addr:value = '10.0.0.1']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def _area(lon: float, lat: float, name: str) -> dict[str, Any]:
    d = 0.01
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {
        "rule": "no-operations",
        "name": name,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }


def _movement(lon: float, lat: float, name: str) -> dict[str, Any]:
    start = clock.now() + timedelta(hours=60)
    return {
        "name": name,
        "route": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.05, lat + 0.05]]},
        "corridor_m": 300,
        "time": {"start": clock.iso(start), "end": clock.iso(start + timedelta(hours=3))},
    }


ROLES_FOR = {
    "site": "notifier",
    "movement": "notifier",
    "operation": "member",
    "area": "member",
    "intelligence": "member",
    "incident": None,  # any role
}


def body_for(kind: str, rng: random.Random, canary: str) -> tuple[dict[str, Any], str | None]:
    """A body of ``kind`` that carries ``canary``, and its STIX id if it has one."""
    lon, lat = _near(rng)
    if kind == "site":
        return site(lon, lat, name=canary), None
    if kind == "movement":
        return _movement(lon, lat, canary), None
    if kind == "operation":
        return {**operation(lon, lat, 800), "name": canary}, None
    if kind == "area":
        return _area(lon, lat, canary), None
    if kind == "intelligence":
        stix = _indicator(canary)
        return stix, str(stix["id"])
    return {**incident_report(lon, lat), "description": canary}, None


def submit(
    server: Server,
    world: World,
    author: PartyHandle,
    kind: str,
    body: dict[str, Any],
    audience: Any,
) -> dict[str, Any]:
    with Client(server.url, author.id, author.token, author.key) as client:
        return client.submit(kind, body, audience)


def restricted(
    server: Server,
    world: World,
    author: PartyHandle,
    kind: str,
    body: dict[str, Any],
    audience: list[str],
    canary: str,
    stix_id: str | None = None,
) -> Secret:
    answer = submit(server, world, author, kind, body, audience)
    secret = Secret(
        answer["id"],
        kind,
        canary,
        frozenset(audience) | {author.id},
        stix_id,
        answer["received_at"],
    )
    world.secrets.append(secret)
    return secret


def build(server: Server, parties: dict[str, PartyHandle], seed: int, count: int) -> World:
    """``count`` restricted records with random audiences, records about them within those
    audiences, and public records as a control."""
    rng = random.Random(seed)
    world = World(seed, more_parties(server, parties))
    everyone = sorted(world.parties)
    for _ in range(count):
        kind = rng.choice(sorted(ROLES_FOR))
        role = ROLES_FOR[kind]
        authors = sorted(p for p, h in world.parties.items() if role in (None, h.role))
        author = world.parties[rng.choice(authors)]
        others = [p for p in everyone if p != author.id]
        audience = sorted(rng.sample(others, rng.randint(1, 3)))
        canary = _canary()
        body, stix_id = body_for(kind, rng, canary)
        secret = restricted(server, world, author, kind, body, audience, canary, stix_id)
        refer(server, world, rng, secret, author)
    for kind in ("site", "operation", "incident", "intelligence"):
        role = ROLES_FOR[kind] or "observer"
        author = next(h for h in world.parties.values() if h.role == role)
        body, stix_id = body_for(kind, rng, _canary())
        world.public.append(submit(server, world, author, kind, body, "all")["id"])
        if stix_id:
            world.stix_public.append(stix_id)
    return world


def refer(
    server: Server, world: World, rng: random.Random, subject: Secret, author: PartyHandle
) -> None:
    """Records about ``subject``, each restricted within its audience and carrying a canary."""
    audience = sorted(subject.audience)
    members = [p for p in audience if world.parties[p].role == "member" and p != author.id]
    observers = [p for p in audience if world.parties[p].role == "observer"]
    if subject.kind in ("site", "movement") and members:
        by = world.parties[rng.choice(members)]
        within = sorted(rng.sample(audience, rng.randint(1, len(audience))))
        canary = _canary()
        body = {"record": subject.id, "note": canary}
        restricted(server, world, by, "acknowledgement", body, within, canary)
        if rng.random() < 0.5:
            canary = _canary()
            body = {"record": subject.id, "reason": canary}
            restricted(server, world, author, "withdrawal", body, audience, canary)
    elif subject.kind == "operation" and rng.random() < 0.5:
        canary = _canary()
        body = {"operation": subject.id, "status": "active", "note": canary}
        restricted(server, world, author, "operation-status", body, audience, canary)
    elif subject.kind == "incident" and observers:
        by = world.parties[observers[0]]
        canary = _canary()
        ask = {"incident": subject.id, "step": "request", "to": author.id, "text": canary}
        restricted(server, world, by, "review", ask, audience, canary)


# -- the sweep ---------------------------------------------------------------------------------


def get_routes(server: Server) -> list[str]:
    """Every GET path of the application, TAXII, the page and the catch-alls included."""
    app = create_app(server.settings, server.hub)  # routes only: nothing is started
    found = set()
    for context in routing.iter_route_contexts(app.routes):
        methods = getattr(context.original_route, "methods", None) or set()
        if "GET" in methods and context.path is not None:
            found.add(context.path)
    return sorted(found - NOT_RECORDS)


def tile_paths(size: int) -> list[str]:
    """Entry bundles and level-0 hash tiles covering the log (C2SP tlog-tiles)."""
    paths = []
    for kind in ("entries", "0"):
        for n in range(size // 256 + 1):
            width = min(256, size - n * 256)
            if width <= 0:
                break
            name = f"{n:03d}" if n < 1000 else f"x{n // 1000:03d}/{n % 1000:03d}"
            paths.append(f"{kind}/{name}" + ("" if width == 256 else f".p/{width}"))
    return paths


def collection_id(audience: frozenset[str] | None) -> str:
    return intel_collections.id_of(intel_collections.key_of(audience))


@dataclass
class Probe:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    asks: str | None = None  # a hidden id the request names itself
    instead: str | None = None  # a missing id of the same form, for comparison


def fill(template: str, world: World, viewer: str, size: int) -> Iterator[Probe]:
    """Concrete requests for one route template, as ``viewer``."""
    names = re.findall(r"{([^}:]+)(?::[^}]*)?}", template)
    hidden = world.hidden_from(viewer)
    if not names:
        yield from _queries(template, world, size)
        return
    if names == ["party_id"]:  # names no record: the viewer and one party of hidden ones
        for p in sorted({viewer, *_authors(hidden)[:1]}):
            yield Probe(template.replace("{party_id}", p))
        return
    if names == ["submission_id"]:  # every hidden id; a few visible ones as a control
        for s in hidden:
            path = template.replace("{submission_id}", s.id)
            other = template.replace("{submission_id}", str(uuid.uuid4()))
            yield Probe(path, {"wait": 0}, asks=s.id, instead=other)
        shown = [s.id for s in world.secrets if s not in hidden][:2] + world.public[:1]
        for record in shown:
            yield Probe(template.replace("{submission_id}", record), {"wait": 0})
        return
    if names == ["name"]:
        yield Probe(template.replace("{name}", "main"), {"to": 1})
        return
    if names == ["path"]:
        for tile in tile_paths(size):
            yield Probe(re.sub(r"{path(:path)?}", tile, template))
        return
    if names == ["rest"]:  # TAXII's answer to any other path
        for s in hidden[:1]:
            yield Probe(template.replace("{rest:path}", f"parley/collections/{s.id}/x/"))
        yield Probe(template.replace("{rest:path}", "nowhere/"))
        return
    if names == ["layer", "fmt"]:  # every layer in every export format
        for layer in ("sites", "movements", "operations", "areas", "incidents", "conflicts"):
            for fmt in ("geojson", "kml", "csv"):
                yield Probe(template.replace("{layer}", layer).replace("{fmt}", fmt))
        return
    if names == ["layer"]:  # OGC API collections, whole
        for layer in ("sites", "movements", "operations", "areas", "incidents", "conflicts"):
            yield Probe(template.replace("{layer}", layer), {"limit": 10000})
        return
    if names == ["layer", "feature_id"]:  # OGC API features asked by hidden record ids
        layers = {"site": "sites", "movement": "movements", "incident": "incidents"}
        for s in hidden:
            if s.kind in layers or s.kind == "operation":
                suffix = "-0" if s.kind == "operation" else ""
                at = template.replace("{layer}", layers.get(s.kind, "operations"))
                path = at.replace("{feature_id}", s.id + suffix)
                other = at.replace("{feature_id}", f"{uuid.uuid4()}{suffix}")
                yield Probe(path, asks=s.id, instead=other)
        return
    if names == ["status_id"]:
        yield Probe(template.replace("{status_id}", str(uuid.uuid4())))
        return
    if "collection_id" in names:
        audiences = {s.audience for s in world.secrets if s.kind == "intelligence"}
        for audience in sorted(audiences, key=sorted):
            cid = collection_id(audience)
            objects = [s for s in world.secrets if s.audience == audience and s.stix_id]
            missing = str(uuid.uuid4())
            for obj in objects if "object_id" in names else [None]:
                path = template.replace("{collection_id}", cid)
                other = template.replace("{collection_id}", missing)
                if obj is not None:
                    assert obj.stix_id is not None
                    path = path.replace("{object_id}", obj.stix_id)
                    other = other.replace("{object_id}", obj.stix_id)
                if viewer in audience:
                    yield Probe(path)
                else:
                    yield Probe(path, asks=cid, instead=other)
        # hidden objects asked of the collection every party reads
        everyone = collection_id(None)
        if "object_id" in names:
            for s in world.secrets:
                if s.stix_id is None:
                    continue
                path = template.replace("{collection_id}", everyone)
                missing = f"indicator--{uuid.uuid4()}"
                other = path.replace("{object_id}", missing)
                path = path.replace("{object_id}", s.stix_id)
                yield Probe(path, asks=s.stix_id, instead=other) if s in hidden else Probe(path)
        else:
            yield Probe(template.replace("{collection_id}", everyone))
        return
    raise AssertionError(
        f"the leak sweep has no values for {names} in {template}: add them to fill()"
    )


def _authors(secrets: list[Secret]) -> list[str]:
    """Parties in the audiences of ``secrets``, most involved first."""
    counted: dict[str, int] = {}
    for s in secrets:
        for p in s.audience:
            counted[p] = counted.get(p, 0) + 1
    return sorted(counted, key=lambda p: (-counted[p], p))


def _queries(path: str, world: World, size: int) -> Iterator[Probe]:
    yield Probe(path)
    if path == "/api/v1/submissions":
        kinds = {s.kind for s in world.secrets}
        for kind in sorted(kinds):
            yield Probe(path, {"kind": kind, "limit": 1000})
        for party in _authors(world.secrets)[:1]:
            yield Probe(path, {"party": party, "limit": 1000})
        yield Probe(path, {"limit": 1000})
    elif path == "/api/v1/areas":
        yield Probe(path, {"proposed": "true"})
    elif path == "/log/proof/inclusion":
        for index in range(0, size, max(1, size // 8)):
            yield Probe(path, {"index": index, "size": size})
    elif path == "/log/proof/consistency":
        yield Probe(path, {"from": 1, "to": size})
    elif path in ("/api/v1/alerts", "/api/v1/conflicts"):
        yield Probe(path, {"limit": 1000})


def bounded(probes: Iterator[Probe], template: str, viewer: str) -> list[Probe]:
    """At most PER_ROUTE probes of a templated route per viewer, hidden ids first, rotated by
    viewer so that together the parties still ask every hidden id of every route."""
    found = list(probes)
    if "{" not in template or len(found) <= PER_ROUTE:
        return found
    asking = [p for p in found if p.asks is not None]
    other = [p for p in found if p.asks is None]
    shift = sum(map(ord, viewer)) % len(asking) if asking else 0
    return (asking[shift:] + asking[:shift] + other)[:PER_ROUTE]


def exposed(response: httpx.Response) -> str:
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code} {headers}\n{response.text}"


def same_answer(asked: httpx.Response, absent: httpx.Response, hidden: str, missing: str) -> None:
    """The answer naming a hidden id is the answer naming a missing one, the ids swapped."""
    assert asked.status_code == absent.status_code, (asked.text, absent.text)
    assert asked.text.replace(hidden, "<asked>") == absent.text.replace(missing, "<asked>")
    keep = {k: v for k, v in asked.headers.items() if k not in VARYING_HEADERS}
    other = {k: v for k, v in absent.headers.items() if k not in VARYING_HEADERS}
    assert keep == other


def first_events(server: Server, party: PartyHandle) -> str:
    """What the alert stream sends first (its opening page), read for a moment."""
    got = ""
    timeout = httpx.Timeout(5.0, read=0.2)
    headers = {"Authorization": f"Bearer {party.token}"}
    try:
        with httpx.stream(
            "GET", f"{server.url}/api/v1/alerts/stream", headers=headers, timeout=timeout
        ) as response:
            for chunk in response.iter_text():
                got += chunk
    except httpx.ReadTimeout:
        pass
    return got


def sweep(server: Server, world: World) -> int:
    size = server.hub.store.log_size()
    routes = get_routes(server)
    assert "/api/v1/participation" in routes and "/taxii2/" in routes
    count = 0
    for viewer, handle in sorted(world.parties.items()):
        hidden = world.hidden_from(viewer)
        words = {s.id for s in hidden} | {s.canary for s in hidden}
        words |= {s.stix_id for s in hidden if s.stix_id}
        # The log shows when a restricted entry arrived (docs/entries.md); nothing else may,
        # or an outsider could tie the entry to its author (issue 10, participation).
        times = {s.received_at for s in hidden if s.received_at}
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {handle.token}", "Accept": "application/json"},
            timeout=30,
        ) as http:
            for template in routes:
                if template == "/api/v1/alerts/stream":
                    text = first_events(server, handle)
                    assert "event: alert" in text or "retry" in text
                    leaked = [w for w in words if w in text]
                    assert not leaked, (viewer, template, leaked)
                    count += 1
                    continue
                headers = {"Accept": TAXII} if template.startswith("/taxii2") else {}
                for probe in bounded(fill(template, world, viewer, size), template, viewer):
                    response = http.get(probe.path, params=probe.params, headers=headers)
                    count += 1
                    assert response.status_code < 500, (probe, response.text)
                    text = exposed(response)
                    if probe.asks is not None:
                        assert probe.instead is not None
                        absent = http.get(probe.instead, params=probe.params, headers=headers)
                        count += 1
                        missing = probe.instead.rstrip("/").split("/")[-1]
                        if probe.asks not in probe.path.rstrip("/").split("/")[-1]:
                            missing = _differing(probe.path, probe.instead)
                        same_answer(response, absent, probe.asks, missing)
                        text = text.replace(probe.asks, "<asked>")
                    leaked = [w for w in words if w in text]
                    if not template.startswith("/log/"):
                        leaked += [w for w in times if w in text]
                    assert not leaked, (viewer, probe, leaked, text[:500])
    return count


def _differing(path: str, other: str) -> str:
    for a, b in zip(path.split("/"), other.split("/"), strict=True):
        if a != b:
            return b
    raise AssertionError("the two probes name the same path")


def test_no_restricted_record_reaches_a_party_outside_its_audience(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    seed = int(os.environ.get("PARLEY_SWEEP_SEED") or random.randrange(2**32))
    print(f"leak sweep seed {seed} (PARLEY_SWEEP_SEED={seed} replays it)")
    started = time.monotonic()
    world = build(server, parties, seed, count=8)
    built = time.monotonic() - started
    # The control: each record's audience does see it, canary and all.
    for secret in world.secrets:
        party = world.parties[sorted(secret.audience)[0]]
        with Client(server.url, party.id, party.token, party.key) as client:
            assert secret.canary in str(client.get(f"/api/v1/submissions/{secret.id}"))
    requests = sweep(server, world)
    print(
        f"{len(world.secrets)} restricted records, {len(world.parties)} parties, "
        f"{requests} requests; built in {built:.1f} s, swept in "
        f"{time.monotonic() - started - built:.1f} s"
    )


# -- the visible set through every read path ---------------------------------------------------

EXPORTED = ("site", "area", "incident")


def visible_sets(server: Server, world: World, handle: PartyHandle) -> dict[str, set[str]]:
    """The record ids ``handle`` sees, path by path."""
    every = [s.id for s in world.secrets] + world.public
    by_stix = {s.stix_id: s.id for s in world.secrets if s.stix_id}
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {handle.token}"}, timeout=30
    ) as http:
        listed: dict[str, str] = {}
        cursor = -1
        while True:
            page = http.get("/api/v1/submissions", params={"cursor": cursor, "limit": 1000}).json()
            listed |= {i["id"]: i["kind"] for i in page["items"]}
            if page["next"] is None:
                break
            cursor = page["next"]
        one_by_one = {i for i in every if http.get(f"/api/v1/submissions/{i}").status_code == 200}
        receipts = {
            i
            for i in every
            if http.get(f"/api/v1/submissions/{i}/receipt", params={"wait": 0}).status_code
            in (200, 202)
        }
        bundle = http.get("/api/v1/export/stix").json()
        exported = {
            ref["external_id"]
            for obj in bundle["objects"]
            for ref in obj.get("external_references", [])
            if ref.get("source_name") == "parley" and "external_id" in ref
        }
        counts = http.get("/api/v1/incidents/counts").json()
        areas = {
            f["properties"]["record"]
            for f in http.get("/api/v1/areas", params={"proposed": "true"}).json()["features"]
        }
        taxii: set[str] = set()
        root = http.get("/taxii2/parley/collections/", headers={"Accept": TAXII}).json()
        for col in root.get("collections", []):
            objects = http.get(
                f"/taxii2/parley/collections/{col['id']}/objects/",
                params={"match[version]": "all"},
                headers={"Accept": TAXII},
            ).json()
            taxii |= {by_stix[o["id"]] for o in objects.get("objects", []) if o["id"] in by_stix}
    kinds = {s.id: s.kind for s in world.secrets}
    mine = {i for i in listed if i in kinds}
    return {
        "list": mine,
        "get": one_by_one & set(kinds),
        "receipt": receipts & set(kinds),
        "export": {i for i in exported if i in kinds} | (mine - _of(kinds, EXPORTED)),
        "incidents": (mine - _of(kinds, ("incident",)))
        | (_incidents(counts, listed, mine) & _of(kinds, ("incident",))),
        "areas": mine | (areas & set(kinds)),
        "taxii": taxii | (mine - _of(kinds, ("intelligence",))),
    }


def _of(kinds: dict[str, str], wanted: tuple[str, ...]) -> set[str]:
    return {i for i, k in kinds.items() if k in wanted}


def _incidents(counts: dict[str, Any], listed: dict[str, str], mine: set[str]) -> set[str]:
    """This example's incidents, if the counts add up to every listed incident."""
    total = sum(1 for kind in listed.values() if kind == "incident")
    return mine if counts["total"] == total else set()


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(sorted(ROLES_FOR)),
            st.sets(
                st.sampled_from(["alpha", "bravo", "charlie", "relief", "monitor"]), max_size=3
            ),
            st.integers(0, 2**16),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_the_visible_set_is_the_same_through_every_read_path(
    server: Server, parties: dict[str, PartyHandle], records: list[tuple[str, set[str], int]]
) -> None:
    """Records with generated audiences; each party's set of ids is the same through the
    submissions list, reads by id, receipts, the STIX export, incident counts, areas and
    TAXII, and is exactly the records whose audience names it."""
    world = World(0, parties)
    for kind, audience, salt in records:
        rng = random.Random(salt)
        role = ROLES_FOR[kind]
        author = next(h for h in parties.values() if role in (None, h.role))
        canary = _canary()
        body, stix_id = body_for(kind, rng, canary)
        named = sorted(audience - {author.id})
        if named:
            restricted(server, world, author, kind, body, named, canary, stix_id)
        else:
            answer = submit(server, world, author, kind, body, "all")
            world.secrets.append(Secret(answer["id"], kind, canary, frozenset(parties), stix_id))
    for party, handle in parties.items():
        expected = {s.id for s in world.secrets if party in s.audience}
        seen = visible_sets(server, world, handle)
        for path, ids in seen.items():
            assert ids == expected, (party, path, sorted(ids ^ expected))
