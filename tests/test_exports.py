"""Every layer a party may see, exported as GeoJSON, KML 2.2 and CSV: read back with real readers
(json, fastkml against the KML 2.2 schema, csv), and holding exactly the caller's audience."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from fastkml import kml as fastkml
from fastkml.validator import validate
from lxml import etree

from parley.layers.features import LAYERS

from .conftest import PartyHandle, Server
from .test_cli_notify import _run
from .test_notices import movement
from .test_screening_hub import HOSPITAL, at, operation, site
from .test_taxii_export import AREA, INCIDENT

KML_NS = "{http://www.opengis.net/kml/2.2}"


def scenario(server: Server, parties: dict[str, PartyHandle], sites: int = 0) -> dict[str, str]:
    """A record of each layer, one site only relief and alpha may see, and ``sites`` more."""
    relief, alpha = parties["relief"], parties["alpha"]
    ids: dict[str, str] = {}
    with server.client(relief) as r, server.client(alpha) as a:
        ids["public"] = r.submit("site", site(*HOSPITAL), "all")["id"]
        ids["private"] = r.submit("site", site(37.5, 36.5, name="Clinic"), ["alpha"])["id"]
        for i in range(sites):
            r.submit("site", site(38.0 + i / 100, 35.0, name=f"School {i}"), "all")
        ids["movement"] = r.submit("movement", movement(60), "all")["id"]
        two = operation(*HOSPITAL, 1000)
        two["volumes"].append(
            {**two["volumes"][0], "time": {"start": at(30), "end": at(32)}},
        )
        ids["operation"] = a.submit("operation", two, "all")["id"]
        ids["area"] = a.submit("area", AREA, "all")["id"]
        ids["incident"] = a.submit("incident", INCIDENT, "all")["id"]
    return ids


def fetch(server: Server, party: PartyHandle, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {party.token}"},
        timeout=30,
    )


def layer(server: Server, party: PartyHandle, name: str, fmt: str = "geojson") -> httpx.Response:
    found = fetch(server, party, f"/api/v1/export/{name}.{fmt}")
    assert found.status_code == 200, found.text
    return found


def test_every_layer_exports_what_the_caller_may_see(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    ids = scenario(server, parties)
    alpha, bravo = parties["alpha"], parties["bravo"]

    seen = {name: layer(server, alpha, name).json() for name in LAYERS}
    for name, collection in seen.items():
        assert collection["type"] == "FeatureCollection", name
        for feature in collection["features"]:
            assert feature["type"] == "Feature" and feature["geometry"]["type"], name
    site_ids = {f["id"] for f in seen["sites"]["features"]}
    assert site_ids == {ids["public"], ids["private"]}
    hospital = next(f for f in seen["sites"]["features"] if f["id"] == ids["public"])
    props = hospital["properties"]
    assert props["category"] == "hospital" and props["start"] == "2026-01-01T00:00:00.000000Z"
    assert props["mgrs"].startswith("37S") and props["dms"].endswith("E")
    # One feature per volume, each with its altitude band and window.
    volumes = seen["operations"]["features"]
    assert [f["id"] for f in volumes] == [f"{ids['operation']}-0", f"{ids['operation']}-1"]
    assert volumes[1]["properties"]["start"] == at(30).replace("Z", "") + "Z"
    assert (volumes[0]["properties"]["lower_m"], volumes[0]["properties"]["upper_m"]) == (500, 3000)
    assert [f["id"] for f in seen["movements"]["features"]] == [ids["movement"]]
    assert seen["movements"]["features"][0]["geometry"]["type"] == "LineString"
    assert [f["properties"]["state"] for f in seen["areas"]["features"]] == ["in force"]
    assert [f["id"] for f in seen["incidents"]["features"]] == [ids["incident"]]
    # The operation meets the hospital: a conflict alpha is alerted about, placed on a point.
    assert seen["conflicts"]["features"]
    assert all(f["geometry"]["type"] == "Point" for f in seen["conflicts"]["features"])

    # Audiences hold: bravo never sees the clinic, in any format, nor any trace of it.
    for fmt in ("geojson", "kml", "csv"):
        text = layer(server, bravo, "sites", fmt).text
        assert ids["public"] in text and ids["private"] not in text and "Clinic" not in text
        assert ids["private"] in layer(server, alpha, "sites", fmt).text
    for name in LAYERS:
        for fmt in ("geojson", "kml", "csv"):
            assert ids["private"] not in layer(server, bravo, name, fmt).text
    # An outsider gets nothing.
    outsider = httpx.get(f"{server.url}/api/v1/export/sites.geojson", timeout=30)
    assert outsider.status_code == 401
    assert outsider.headers["content-type"].startswith("application/problem+json")
    bad = fetch(server, alpha, "/api/v1/export/bunkers.geojson")
    assert bad.status_code == 404 and "layers" in bad.json()["detail"]
    assert fetch(server, alpha, "/api/v1/export/sites.shp").status_code == 404


def test_kml_is_valid_kml_22_styled_and_timed(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    ids = scenario(server, parties)
    alpha = parties["alpha"]
    for name in LAYERS:
        response = layer(server, alpha, name, "kml")
        assert response.headers["content-type"] == "application/vnd.google-earth.kml+xml"
        root = etree.fromstring(response.content)
        assert validate(element=root) is True, name  # the KML 2.2 schema (OGC 07-147r2)
        parsed = fastkml.KML.from_string(response.content)
        (document,) = parsed.features
        expected = len(layer(server, alpha, name).json()["features"])
        assert len(document.features) == expected, name
    root = etree.fromstring(layer(server, alpha, "operations", "kml").content)
    spans = root.findall(f".//{KML_NS}Placemark/{KML_NS}TimeSpan")
    assert len(spans) == 2 and all(s.find(f"{KML_NS}end") is not None for s in spans)
    sites = etree.fromstring(layer(server, alpha, "sites", "kml").content)
    styles = {s.get("id") for s in sites.findall(f".//{KML_NS}Style")}
    assert styles == {"hospital"}
    urls = {u.text for u in sites.findall(f".//{KML_NS}styleUrl")}
    assert urls == {"#hospital"}
    (hospital,) = [
        p
        for p in sites.findall(f".//{KML_NS}Placemark")
        if p.find(f"{KML_NS}ExtendedData/{KML_NS}Data[@name='record']/{KML_NS}value").text
        == ids["public"]
    ]
    assert hospital.find(f"{KML_NS}TimeSpan/{KML_NS}begin").text == "2026-01-01T00:00:00.000000Z"
    conflicts = etree.fromstring(layer(server, alpha, "conflicts", "kml").content)
    severity = {s.get("id") for s in conflicts.findall(f".//{KML_NS}Style")}
    assert severity and severity <= {"critical", "high", "warning", "medium", "low", "info"}


def test_csv_has_mgrs_and_dms_columns(server: Server, parties: dict[str, PartyHandle]) -> None:
    ids = scenario(server, parties)
    alpha = parties["alpha"]
    rows = list(csv.DictReader(io.StringIO(layer(server, alpha, "sites", "csv").text)))
    assert {r["id"] for r in rows} == {ids["public"], ids["private"]}
    hospital = next(r for r in rows if r["id"] == ids["public"])
    assert (float(hospital["lon"]), float(hospital["lat"])) == HOSPITAL
    assert hospital["mgrs"].startswith("37S ") and "°" in hospital["dms"]
    assert hospital["category"] == "hospital" and hospital["wkt"].startswith("POINT")
    for name in LAYERS:
        text = layer(server, alpha, name, "csv").text
        header = next(csv.reader(io.StringIO(text)))
        assert {"mgrs", "dms", "lat", "lon", "start", "end", "wkt"} <= set(header), name


def test_export_from_the_cli(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    ids = scenario(server, parties)
    bravo = parties["bravo"]
    out = tmp_path / "sites.geojson"
    done = _run(
        server,
        bravo,
        tmp_path,
        "export",
        "--format",
        "geojson",
        "--layer",
        "sites",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert [f["id"] for f in json.loads(out.read_text())["features"]] == [ids["public"]]
    kml = _run(server, bravo, tmp_path, "export", "--format", "kml", "--layer", "operations")
    assert kml.returncode == 0 and kml.stdout.count("<Placemark") == 2
    missing = _run(server, bravo, tmp_path, "export", "--format", "csv")
    assert missing.returncode != 0 and "--layer" in missing.stderr


def test_geopackage_opens_in_gdal_with_the_callers_features(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    """Every layer as a GeoPackage: GDAL's ogrinfo (QGIS's reader) opens it, with the same
    features as the GeoJSON export, typed columns, WGS 84; the audience holds; the CLI writes it."""
    import pyogrio

    ids = scenario(server, parties)
    alpha, bravo = parties["alpha"], parties["bravo"]
    for name in LAYERS:
        answer = layer(server, alpha, name, "gpkg")
        assert answer.headers["content-type"] == "application/geopackage+sqlite3"
        assert answer.content.startswith(b"SQLite format 3\x00")
        path = tmp_path / f"{name}.gpkg"
        path.write_bytes(answer.content)
        expected = layer(server, alpha, name).json()["features"]
        info = pyogrio.read_info(path, layer=name)
        assert info["features"] == len(expected), name
        assert info["crs"] == "EPSG:4326", name
        _, _, _, values = pyogrio.raw.read(path, layer=name, columns=["id"])
        assert list(values[0]) == [f["id"] for f in expected], name
    sites_info = pyogrio.read_info(tmp_path / "sites.gpkg", layer="sites")
    types = dict(zip(sites_info["fields"], sites_info["dtypes"], strict=True))
    assert types["radius_m"] == "int64" and types["name"] == "object"

    if shutil.which("ogrinfo"):
        listed = subprocess.run(
            ["ogrinfo", "-ro", "-al", "-so", str(tmp_path / "sites.gpkg")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0 and "Warning" not in listed.stderr, listed.stderr
        assert "Feature Count: 2" in listed.stdout and "WGS 84" in listed.stdout
        assert "radius_m: Integer64" in listed.stdout

    # bravo's GeoPackage, written by the CLI: the clinic shared with alpha only is not in it.
    out = tmp_path / "bravo-sites.gpkg"
    done = _run(
        server, bravo, tmp_path, "export", "--format", "gpkg", "--layer", "sites", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    _, _, _, values = pyogrio.raw.read(out, layer="sites", columns=["id"])
    assert list(values[0]) == [ids["public"]]
    assert ids["private"].encode() not in out.read_bytes()
