"""`parley site import`: CSV and .xlsx sheets of sites against a real hub, in-process.

The command runs through `parley.cli.app.main` with capsys (a subprocess each would take seconds);
the hub is the real one on a real socket, on both backends.
"""

from __future__ import annotations

import csv
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from importlib import resources
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from parley import clock, config
from parley.api.app import create_app
from parley.cli import demo_scenario
from parley.client.http import Client
from parley.geo.region import Region
from parley.hub import setup
from parley.hub.core import Hub
from parley.parties import jws

from .conftest import ParleyAs, PartyHandle, Server, free_port

HEADER = ["Facility name", "Type of facility", "Latitude", "Longitude", "Radius (m)", "Notes"]


@pytest.fixture
def run(parley_as: ParleyAs, parties: dict[str, PartyHandle]) -> object:
    def invoke(*args: str) -> tuple[int, str, str]:
        ran = parley_as(parties["relief"], "site", "import", *args)
        return ran.code, ran.out, ran.err

    return invoke


def _sites(server: Server, party: str = "relief") -> list[dict[str, object]]:
    found = []
    cursor = -1
    while True:
        page = server.hub.store.list_submissions(party, after=cursor, limit=1000, kind="site")
        found += [s for s in page if s.party_id == party]
        if len(page) < 1000:
            return [{"id": s.id} for s in found]
        cursor = page[-1].log_index


def _csv(
    path: Path, rows: list[list[object]], header: list[str] = HEADER, bom: bool = True
) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _syria(server: Server) -> None:
    syria = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    setup.record_region(server.settings, Region.from_geojson(syria, 50_000, "Syria"))


def test_a_csv_with_a_bom_is_checked_then_imported_once(
    server: Server, run: object, tmp_path: Path
) -> None:
    invoke = run
    assert callable(invoke)
    sheet = _csv(
        tmp_path / "sites.csv",
        [
            ["Al-Razi hospital", "Hospital", "36.2012", "37.1612", "150", "x"],
            ["School 4", "school", "36.2102", "37.1301", "80", ""],
            ["Shelter Bab", "collective shelter", "36.1900", "37.1500", "60", ""],
        ],
    )
    size = server.hub.store.log_size()
    code, stdout, stderr = invoke(str(sheet), "--check")
    assert code == 0, stderr
    # The mapping is shown, and every row's decoded position, in every form, with its place.
    assert "'Facility name' → name" in stderr and "'Latitude' → latitude" in stderr
    assert "ignored: 'Notes'" in stderr
    assert "row 2: Al-Razi hospital (hospital) at 36.20120, 37.16120" in stdout
    assert "37S CA" in stdout and "Aleppo" in stdout and "36°12′04.3″N" in stdout
    assert "row 4: Shelter Bab (shelter)" in stdout
    assert "nothing sent" in stdout
    assert server.hub.store.log_size() == size
    code, stdout, stderr = invoke(str(sheet), "--yes", "--json")
    assert code == 0, stderr
    answer = json.loads(stdout)
    assert [a["row"] for a in answer["accepted"]] == [2, 3, 4]
    assert answer["refused"] == [] and answer["skipped"] == []
    assert len(_sites(server)) == 3
    stored = server.hub.store.get_submission(answer["accepted"][0]["id"], "relief")
    assert stored is not None and stored.kind == "site"
    # The same file again notifies nothing new, and says so.
    code, stdout, stderr = invoke(str(sheet), "--yes")
    assert code == 0, stderr
    assert stdout.count("already notified as") == 3
    assert len(_sites(server)) == 3
    # Without --yes and away from a terminal nothing is sent.
    (tmp_path / "more.csv").write_text(
        "name,category,position,radius\nNew,school,37S CA 34576 07700,40\n"
    )
    code, _, stderr = invoke(str(tmp_path / "more.csv"))
    assert code == 1 and "--yes sends" in stderr
    assert len(_sites(server)) == 3


def test_an_xlsx_with_mgrs_and_validity_is_imported(
    server: Server, run: object, tmp_path: Path
) -> None:
    invoke = run
    assert callable(invoke)
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["Facility Name", "Facility type", "MGRS", "Radius", "Valid until", "Audience"])
    ws.append(["Clinic A", "health post", "37S CA 34576 07700", 50, "2030-01-01T00:00:00Z", "all"])
    ws.append(["Water B", "Water", "37S CA 35000 08000", 75.5, None, "bravo"])
    path = tmp_path / "sites.xlsx"
    book.save(path)
    code, stdout, stderr = invoke(str(path), "--yes", "--json")
    assert code == 0, stderr
    assert "'MGRS' → position" in stderr
    answer = json.loads(stdout)
    assert len(answer["accepted"]) == 2
    first = server.hub.store.get_submission(answer["accepted"][0]["id"], "relief")
    second = server.hub.store.get_submission(answer["accepted"][1]["id"], "relief")
    assert first is not None and second is not None
    # The audience column holds: the second row is hidden from a party it does not name.
    assert server.hub.store.get_submission(second.id, "charlie") is None
    assert server.hub.store.get_submission(second.id, "bravo") is not None
    assert server.hub.store.get_submission(first.id, "charlie") is not None
    code, stdout, _ = invoke(str(path), "--yes", "--json")
    assert code == 0 and len(json.loads(stdout)["skipped"]) == 2


def test_bad_rows_are_refused_alone_and_written_to_a_file(
    server: Server, run: object, tmp_path: Path
) -> None:
    invoke = run
    assert callable(invoke)
    _syria(server)
    header = [*HEADER[:5], "Valid from"]
    sheet = _csv(
        tmp_path / "mixed.csv",
        [
            ["Good 1", "hospital", "36.2012", "37.1612", "100", ""],
            ["Far away", "school", "48.85", "2.35", "100", ""],  # Paris
            ["Odd", "palace", "36.2012", "37.1612", "100", ""],
            ["Flat", "school", "36.21", "37.13", "0", ""],
            ["Naive", "school", "36.21", "37.13", "50", "2026-03-01T10:00:00"],
            ["Sum", "school", "=36+0.2", "37.13", "50", ""],
            ["Good 2", "camp", "36.19", "37.15", "200", "2026-03-01T10:00:00+03:00"],
        ],
        header,
    )
    code, stdout, stderr = invoke(str(sheet), "--check", "--json")
    assert code == 0, stderr
    verdicts = {r["row"]: r for r in json.loads(stdout)["rows"]}
    assert verdicts[3]["verdict"] == "refused" and verdicts[3]["column"] == "position"
    assert "outside the area this hub serves" in verdicts[3]["reason"]
    assert verdicts[2]["verdict"] in ("accepted", "flagged")
    size = server.hub.store.log_size()
    code, stdout, stderr = invoke(str(sheet), "--yes")
    assert code == 1
    for row, column, says in [
        (3, "position", "outside the area this hub serves"),
        (4, "Type of facility", "unknown category 'palace'"),
        (5, "Radius (m)", "radius 0 m"),
        (6, "Valid from", "no time zone"),
        (7, "Latitude", "a formula"),
    ]:
        assert f"row {row}: refused ({column}): " in stdout, (row, stdout)
        assert says in stdout.split(f"row {row}: refused")[1].split("\n")[0], (row, stdout)
    # The good rows went through, whole; nothing of the bad ones did.
    assert server.hub.store.log_size() == size + 2
    assert len(_sites(server)) == 2
    refused = list(csv.reader((tmp_path / "mixed.refused.csv").read_text("utf-8").splitlines()))
    assert refused[0][:4] == ["row", "column", "reason", "Facility name"]
    assert [r[0] for r in refused[1:]] == ["3", "4", "5", "6", "7"]
    assert refused[2][3] == "Odd"
    # Fixed and imported again: the refusals file is itself importable.
    with (tmp_path / "mixed.refused.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows = [rows[0]] + [r for r in rows[1:] if r[0] == "4"]
    rows[1][4] = "cultural"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    code, stdout, stderr = invoke(str(fixed), "--yes", "--json")
    assert code == 0, stderr
    assert len(json.loads(stdout)["accepted"]) == 1


def test_an_xlsx_formula_or_a_zoneless_date_refuses_its_row(
    server: Server, run: object, tmp_path: Path
) -> None:
    invoke = run
    assert callable(invoke)
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["Name", "Category", "Lat", "Lon", "Radius", "Valid until"])
    ws.append(["Good", "school", 36.2, 37.16, 50, None])
    ws.append(["Formula", "school", "=B1", 37.16, 50, None])
    ws.append(["Dated", "school", 36.21, 37.17, 50, datetime(2030, 1, 1)])
    path = tmp_path / "f.xlsx"
    book.save(path)
    code, stdout, _ = invoke(str(path), "--yes", "--json")
    assert code == 1
    answer = json.loads(stdout)
    assert [a["row"] for a in answer["accepted"]] == [2]
    refused = {r["row"]: r for r in answer["refused"]}
    assert refused[3]["column"] == "Lat" and "a formula (=B1)" in refused[3]["reason"]
    assert refused[4]["column"] == "Valid until" and "no time zone" in refused[4]["reason"]
    assert len(_sites(server)) == 1


def test_bad_files_are_refused_whole(server: Server, run: object, tmp_path: Path) -> None:
    invoke = run
    assert callable(invoke)
    size = server.hub.store.log_size()
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    headers_only = tmp_path / "headers.csv"
    headers_only.write_text("name,category,lat,lon,radius\n\n")
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.write(b"name,category,lat,lon,radius\n")
        f.truncate(50 * 1024 * 1024)
    arabic = tmp_path / "arabic.csv"
    arabic.write_bytes(
        "اسم المنشأة,نوع المنشأة,Latitude,Longitude,Radius\nمستشفى,hospital,36.2,37.16,50\n".encode(
            "cp1256"
        )
    )
    no_position = tmp_path / "nopos.csv"
    no_position.write_text("name,category,radius\nA,school,50\n")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0 not really")
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04 broken zip")
    for path, says in [
        (empty, "empty.csv is empty"),
        (headers_only, "no rows"),
        (big, "the limit is 20 MB"),
        (arabic, "Windows-1256"),
        (no_position, "no column for a position"),
        (xls, "save it as .xlsx or CSV"),
        (fake, "not a readable .xlsx workbook"),
    ]:
        code, stdout, stderr = invoke(str(path), "--yes")
        assert code == 1, (path.name, stdout, stderr)
        assert says in stderr, (path.name, stderr)
        assert server.hub.store.log_size() == size
    # Named explicitly, the Windows-1256 file is read, names and all.
    code, stdout, stderr = invoke(str(arabic), "--yes", "--encoding", "cp1256", "--json")
    assert code == 0, stderr
    (accepted,) = json.loads(stdout)["accepted"]
    stored = server.hub.store.get_submission(accepted["id"], "relief")
    assert stored is not None
    assert jws.Parsed(stored.jws, stored=True).payload["body"]["name"] == "مستشفى"


@contextmanager
def _source_hub(tmp_path: Path) -> Iterator[tuple[str, str, PartyHandle]]:
    """A second hub (SQLite) holding the demo's 500 generated sites, notified by relief."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = tmp_path / "source"
    setup.init(data, None, None)
    settings = replace(config.load(data, None), checkpoint_interval_s=0.05)
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(settings, "relief", "Relief", "notifier", key.public_key())
    # The demo restricts some sites to relief and bravo.
    setup.add_party(settings, "bravo", "Bravo", "member", Ed25519PrivateKey.generate().public_key())
    hub = Hub(settings)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(settings, hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "the source hub did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", token, PartyHandle("relief", "notifier", token, key)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        hub.close()


def test_the_demo_sites_exported_to_csv_import_into_a_fresh_hub_once(
    server: Server, run: object, tmp_path: Path
) -> None:
    invoke = run
    assert callable(invoke)
    since = clock.iso(clock.now())
    sites = demo_scenario._sites(random.Random(7), demo_scenario.places(), 500, since)
    with (
        _source_hub(tmp_path) as (url, token, relief),
        Client(url, "relief", token, relief.key) as source,
    ):
        compacts = [source.sign("site", body, audience) for _, body, audience, _ in sites]
        results = source.submit_batch(compacts)
        assert all(r["status"] == 201 for r in results)
        # The notifier's own export (the sites layer as CSV, with MGRS and DMS columns).
        response = source.http.get("/api/v1/export/sites.csv")
        assert response.status_code == 200, response.text
    exported = tmp_path / "demo-sites.csv"
    exported.write_bytes(response.content)
    assert len(response.text.splitlines()) == 501
    code, stdout, stderr = invoke(str(exported), "--yes", "--json")
    assert code == 0, stderr
    answer = json.loads(stdout)
    assert len(answer["accepted"]) == 500 and answer["refused"] == []
    assert len(_sites(server)) == 500
    code, stdout, stderr = invoke(str(exported), "--yes", "--json")
    assert code == 0, stderr
    answer = json.loads(stdout)
    assert answer["accepted"] == [] and len(answer["skipped"]) == 500
    assert len(_sites(server)) == 500


def test_a_semicolon_csv_with_quoted_dms_is_read_as_excel_writes_it(tmp_path: Path) -> None:
    from parley.formats.spreadsheet import read_sites

    path = tmp_path / "semi.csv"
    path.write_text(
        "Name;Category;Coordinates;Radius\n"
        'Water point 2;water point;"36°12\'04.3""N 37°09\'40.3""E";75\n'
    )
    sheet = read_sites(path)
    assert sheet.refusals == []
    (row,) = sheet.rows
    assert row.category == "water" and abs(row.lat - 36.201194) < 1e-5
