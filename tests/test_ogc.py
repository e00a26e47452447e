"""OGC API – Features under /ogc/, driven by the clients the field uses: OWSLib (QGIS's Python
side) and GDAL's OAPIF driver (ogr2ogr, as QGIS itself reads it). Each reads every layer whole,
across pages, with the same counts as the export API; datetime and bbox are honoured; bad
parameters get 400 with the OGC exception JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from owslib.ogcapi.features import Features
from owslib.util import Authentication

from parley.layers.features import LAYERS

from .conftest import PartyHandle, Server
from .test_exports import fetch, layer, scenario
from .test_screening_hub import at, site

PAGE = 5


def owslib_all(api: Features, name: str, **params: Any) -> list[dict[str, Any]]:
    """Every feature of a layer, following rel=next as a client does."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": PAGE, **params}
    for _ in range(100):
        page = api.collection_items(name, **query)
        found += page["features"]
        assert page["numberReturned"] == len(page["features"]) <= PAGE
        after = [link for link in page["links"] if link["rel"] == "next"]
        if not after:
            assert page["numberMatched"] == len(found)
            return found
        query = dict(parse_qsl(urlsplit(after[0]["href"]).query))
    raise AssertionError("paging did not end")


def test_owslib_reads_every_layer_whole(server: Server, parties: dict[str, PartyHandle]) -> None:
    ids = scenario(server, parties, sites=12)
    alpha, bravo = parties["alpha"], parties["bravo"]
    api = Features(f"{server.url}/ogc/", auth=Authentication(alpha.id, alpha.token))
    landing = api.links
    rels = {link["rel"] for link in landing}
    assert {"service-desc", "data", "conformance"} <= rels
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
        in (api.conformance()["conformsTo"])
    )
    assert api.feature_collections() == list(LAYERS)
    for name in LAYERS:
        expected = [f["id"] for f in layer(server, alpha, name).json()["features"]]
        got = [f["id"] for f in owslib_all(api, name)]
        assert got == expected, name
        assert api.collection(name)["id"] == name
        assert "geometry" in api.collection_queryables(name)["properties"]
    assert len(owslib_all(api, "sites")) == 14  # three pages of five
    one = api.collection_item("sites", ids["private"])
    assert one["properties"]["name"] == "Clinic" and one["properties"]["mgrs"].startswith("37S")

    # datetime: operations by their windows, sites by their validity.
    first, second = f"{ids['operation']}-0", f"{ids['operation']}-1"
    during = owslib_all(api, "operations", datetime_=at(9))
    assert [f["id"] for f in during] == [first]
    later = owslib_all(api, "operations", datetime_=f"{at(29)}/..")
    assert [f["id"] for f in later] == [second]
    both = owslib_all(api, "operations", datetime_=f"{at(9)}/{at(31)}")
    assert [f["id"] for f in both] == [first, second]
    assert owslib_all(api, "operations", datetime_=f"../{at(7)}") == []
    assert owslib_all(api, "sites", datetime_="2025-06-01T00:00:00Z") == []
    assert len(owslib_all(api, "sites", datetime_="2026-06-01T00:00:00Z")) == 14
    # bbox: the clinic alone.
    near = owslib_all(api, "sites", bbox=[37.4, 36.4, 37.6, 36.6])
    assert [f["id"] for f in near] == [ids["private"]]

    # Audiences: bravo, with a bearer token this time, never sees the clinic.
    as_bravo = Features(f"{server.url}/ogc/", headers={"Authorization": f"Bearer {bravo.token}"})
    seen = [f["id"] for f in owslib_all(as_bravo, "sites")]
    assert len(seen) == 13 and ids["private"] not in seen
    missing = fetch(server, bravo, f"/ogc/collections/sites/items/{ids['private']}")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_bad_parameters_get_ogc_exceptions(server: Server, parties: dict[str, PartyHandle]) -> None:
    alpha = parties["alpha"]
    scenario(server, parties)
    bad: list[dict[str, str]] = [
        {"limit": "0"},
        {"limit": "100001"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"bbox": "1,2,3"},
        {"bbox": "0,100,1,101"},
        {"bbox": "a,b,c,d"},
        {"bbox": "nan,0,1,1"},
        {"datetime": "yesterday"},
        {"datetime": "2026-01-01T00:00:00"},  # no zone
        {"datetime": "../.."},
        {"datetime": "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"},
        {"f": "xml"},
    ]
    for params in bad:
        answer = fetch(server, alpha, "/ogc/collections/sites/items", **params)
        assert answer.status_code == 400, (params, answer.text)
        body = answer.json()
        assert body["code"] == "InvalidParameterValue" and body["description"], params
        assert body["status"] == 400 and body["detail"], params  # and an RFC 9457 problem
    unknown = fetch(server, alpha, "/ogc/collections/bunkers/items")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"
    # Unauthenticated, or Basic naming another party than the token's: 401, nothing else.
    for auth in (None, ("bravo", alpha.token), ("alpha", "wrong")):
        answer = httpx.get(f"{server.url}/ogc/collections/sites/items", auth=auth, timeout=30)
        assert answer.status_code == 401, auth
        assert "features" not in answer.text


def gdal_read(server: Server, party: PartyHandle, name: str, tmp: Path, *extra: str) -> list[Any]:
    out = tmp / f"{name}-{len(extra)}.geojson"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "GDAL_HTTP_AUTH": "BASIC",
        "GDAL_HTTP_USERPWD": f"{party.id}:{party.token}",
        "CPL_DEBUG": "OFF",
    }
    done = subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(out),
            f"OAPIF:{server.url}/ogc/",
            name,
            "-oo",
            f"PAGE_SIZE={PAGE}",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    features: list[Any] = json.loads(out.read_text())["features"]
    return features


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="GDAL's ogr2ogr is not installed")
def test_gdal_reads_every_layer_whole(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    ids = scenario(server, parties, sites=12)
    alpha, bravo = parties["alpha"], parties["bravo"]
    for name in LAYERS:
        expected = layer(server, alpha, name).json()["features"]
        got = gdal_read(server, alpha, name, tmp_path)
        assert len(got) == len(expected), name
        assert sorted(str(f["properties"].get("id")) for f in got) == sorted(
            f["id"] for f in expected
        ), name
    listed = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{server.url}/ogc/"],
        capture_output=True,
        text=True,
        env={**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"bravo:{bravo.token}"},
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in LAYERS)
    seen = gdal_read(server, bravo, "sites", tmp_path)
    assert len(seen) == 13 and ids["private"] not in json.dumps(seen)
    # A spatial filter, passed to the server as bbox.
    near = gdal_read(server, alpha, "sites", tmp_path, "-spat", "37.4", "36.4", "37.6", "36.6")
    assert [f["properties"]["name"] for f in near] == ["Clinic"]


def test_cached_layers_follow_the_log_and_hold_audiences(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """/ogc/ serves each party's layer from a cache: a new record, a withdrawal and an
    operation's status show at once, and one party's cached layer never reaches another."""
    ids = scenario(server, parties)
    alpha, bravo = parties["alpha"], parties["bravo"]

    def sites(party: PartyHandle) -> list[str]:
        answer = fetch(server, party, "/ogc/collections/sites/items", limit="100")
        assert answer.status_code == 200, answer.text
        return [f["id"] for f in answer.json()["features"]]

    def status(party: PartyHandle) -> set[str]:
        found = fetch(server, party, "/ogc/collections/operations/items").json()["features"]
        return {f["properties"]["status"] for f in found}

    assert sites(alpha) == [ids["public"], ids["private"]]  # alpha's layer is now cached
    assert sites(bravo) == [ids["public"]]
    assert status(bravo) == {"planned"}
    with server.client(parties["relief"]) as r, server.client(alpha) as a:
        secret = r.submit("site", site(38.5, 35.5, name="Depot"), ["alpha"])["id"]
        assert sites(alpha) == [ids["public"], ids["private"], secret]
        assert sites(bravo) == [ids["public"]]
        one = fetch(server, bravo, f"/ogc/collections/sites/items/{secret}")
        assert one.status_code == 404
        assert fetch(server, alpha, f"/ogc/collections/sites/items/{secret}").status_code == 200
        r.submit("withdrawal", {"record": ids["public"]})
        assert sites(alpha) == [ids["private"], secret]
        assert sites(bravo) == []
        a.submit("operation-status", {"operation": ids["operation"], "status": "active"})
        assert status(bravo) == {"active"}


def test_the_layer_index_selects_as_shapely_does() -> None:
    """The cache's vector filters against the plain rule, on lines, polygons and points, windows
    open at either end, and boxes across the antimeridian."""
    from datetime import UTC, datetime, timedelta
    from random import Random

    from shapely.geometry import box, shape

    from parley.layers.cache import Indexed
    from parley.layers.features import Feature

    rng = Random(15)
    epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def when() -> datetime:
        return epoch + timedelta(hours=rng.randrange(0, 200))

    made: list[Feature] = []
    for i in range(300):
        x, y = rng.uniform(-180, 180), rng.uniform(-80, 80)
        geometry: dict[str, Any] = [
            {"type": "Point", "coordinates": [x, y]},
            # diagonal: its bounds meet many boxes the line itself misses
            {"type": "LineString", "coordinates": [[x, y], [min(180, x + 30), min(90, y + 30)]]},
            {"type": "Polygon", "coordinates": [[[x, y], [x, y + 5], [x + 5, y], [x, y]]]},
        ][i % 3]
        start = None if i % 7 == 0 else when()
        end = None if start is None or i % 5 == 0 else start + timedelta(hours=rng.randrange(48))
        made.append(Feature(str(i), geometry, {}, start, end))
    indexed = Indexed.of(made, 0)
    shapes = [shape(f.geometry) for f in made]
    for _ in range(200):
        minx, maxx = rng.uniform(-180, 180), rng.uniform(-180, 180)  # minx > maxx: antimeridian
        miny = rng.uniform(-90, 60)
        area = (minx, miny, maxx, miny + rng.uniform(0, 30))
        window = rng.choice(
            [(when(), None), (None, when()), (t := when(), t + timedelta(hours=5)), None]
        )
        boxes = (
            [box(minx, area[1], 180, area[3]), box(-180, area[1], maxx, area[3])]
            if minx > maxx
            else [box(*area)]
        )
        expected = [
            f.id
            for f, drawn in zip(made, shapes, strict=True)
            if any(drawn.intersects(b) for b in boxes)
            and (
                window is None
                or f.start is None
                or (
                    (window[1] is None or f.start <= window[1])
                    and (window[0] is None or f.end is None or f.end >= window[0])
                )
            )
        ]
        got = [made[i].id for i in indexed.select(area, window)]
        assert got == expected, (area, window)


def test_html_answers_are_escaped_and_self_contained(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """f=html, or a browser's Accept, gets a page: landing, collections, one collection, items
    and one item; what parties wrote is escaped; nothing is loaded from elsewhere."""
    ids = scenario(server, parties)
    alpha, bravo = parties["alpha"], parties["bravo"]
    with server.client(parties["relief"]) as r:
        evil = r.submit("site", site(38.2, 35.2, name="<script>alert(1)</script>"), "all")["id"]
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    pages = {
        "/ogc/": {"f": "html"},
        "/ogc/collections": {"f": "html"},
        "/ogc/collections/sites": {"f": "html"},
        "/ogc/conformance": {"f": "html"},
        "/ogc/collections/sites/items": {},  # by Accept alone
        f"/ogc/collections/sites/items/{evil}": {},
    }
    for path, params in pages.items():
        answer = httpx.get(
            f"{server.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {alpha.token}", "Accept": browser},
            timeout=30,
        )
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        text = answer.text
        assert text.startswith("<!doctype html>") and "<script" not in text, path
        assert "src=" not in text and "stylesheet" not in text, path
    items = fetch(server, alpha, "/ogc/collections/sites/items", f="html").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in items and ids["private"] in items
    first = fetch(server, alpha, "/ogc/collections/sites/items", f="html", limit="2").text
    assert "2 of 3 features" in first and "offset=2&amp;f=html" in first  # next stays HTML
    # bravo's page has no clinic; JSON clients (no HTML in Accept) still get GeoJSON.
    theirs = fetch(server, bravo, "/ogc/collections/sites/items", f="html").text
    assert ids["private"] not in theirs and "Clinic" not in theirs
    plain = httpx.get(
        f"{server.url}/ogc/collections/sites/items",
        headers={"Authorization": f"Bearer {alpha.token}", "Accept": "application/geo+json"},
        timeout=30,
    )
    assert plain.headers["content-type"] == "application/geo+json"


def test_the_layer_cache_extends_rebuilds_and_evicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same log size: no read. Grown log: only the new records are read, unless one of them
    reshapes the layer (then all again). Each viewer its own entry; the oldest entry goes when
    the features held pass the bound."""
    from types import SimpleNamespace

    from parley.layers import cache as layer_cache
    from parley.layers.features import Feature

    log = {"size": 5, "reshaping": False}
    reads: list[tuple[str, int]] = []

    def features(_hub: Any, viewer: Any, _layer: str, after: int = -1) -> list[Feature]:
        reads.append((viewer.id, after))
        point = {"type": "Point", "coordinates": [0, 0]}
        return [
            Feature(f"{viewer.id}-{i}", point, {}, None, None)
            for i in range(after + 1, log["size"])
        ]

    store = SimpleNamespace(
        log_size=lambda: log["size"],
        iter_submissions=lambda kinds, after: iter([after] if log["reshaping"] else []),
    )
    hub: Any = SimpleNamespace(store=store)
    alpha: Any = SimpleNamespace(id="alpha")
    bravo: Any = SimpleNamespace(id="bravo")
    monkeypatch.setattr(layer_cache, "features", features)
    cache = layer_cache.LayerCache(max_features=12)

    assert len(cache.get(hub, alpha, "sites").ids) == 5 and reads == [("alpha", -1)]
    cache.get(hub, alpha, "sites")
    assert reads == [("alpha", -1)]
    log["size"] = 7
    grown = cache.get(hub, alpha, "sites")
    assert reads[-1] == ("alpha", 4) and grown.ids == [f"alpha-{i}" for i in range(7)]
    assert grown.position("alpha-6") == 6
    log["size"], log["reshaping"] = 8, True
    assert len(cache.get(hub, alpha, "sites").ids) == 8 and reads[-1] == ("alpha", -1)
    assert cache.get(hub, bravo, "sites").ids[0] == "bravo-0"  # 16 held: alpha's goes
    cache.get(hub, alpha, "sites")
    assert reads[-2:] == [("bravo", -1), ("alpha", -1)]
