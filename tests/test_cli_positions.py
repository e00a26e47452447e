"""`parley site add` reads positions strictly, says where a site landed and never hides a flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Geod

from .conftest import ParleyAs, PartyHandle, Server
from .test_cli_notify import _run

ISSUE_CASES = {
    "37S CA 3457 077001": "the same number",
    "37T CA 34576 07700": "latitude band T",
    "37SCA": "100 km square",
}


def _add(
    server: Server, party: PartyHandle, tmp: Path, at: str, *extra: str
) -> tuple[int, str, str]:
    done = _run(
        server,
        party,
        tmp,
        "site",
        "add",
        "--name",
        "Clinic",
        "--category",
        "health-post",
        "--at",
        at,
        "--radius",
        "100",
        *extra,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(("typed", "says"), sorted(ISSUE_CASES.items()))
def test_the_typos_of_the_issue_are_refused_and_nothing_is_stored(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path, typed: str, says: str
) -> None:
    size = server.hub.store.log_size()
    code, _, stderr = _add(server, parties["relief"], tmp_path, typed)
    assert code == 1
    assert says in stderr and typed in stderr
    for internal in ("Traceback", "RuntimeWarning", "MGRSError", "Convert_"):
        assert internal not in stderr
    assert server.hub.store.log_size() == size


def test_site_add_echoes_where_it_landed_and_shows_flags(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    relief = parties["relief"]
    code, stdout, stderr = _add(server, relief, tmp_path, "37S CA 34576 07700")
    assert code == 0, stderr
    assert "36.20000, 37.16000" in stdout
    assert "36°12′00.0″N 37°09′36.0″E" in stdout
    assert "37S CA 34576 07700" in stdout
    assert "SW of Aleppo, Aleppo governorate" in stdout
    # A second clinic 30 m away asks first; with no terminal to ask on, nothing is notified.
    size = server.hub.store.log_size()
    code, stdout, stderr = _add(server, relief, tmp_path, "36.2003, 37.16")
    assert code == 1 and "possible duplicate" in stderr and "--yes" in stderr
    assert server.hub.store.log_size() == size
    # With --yes it is notified, and the hub's flag is printed without --json.
    code, stdout, stderr = _add(server, relief, tmp_path, "36.2003, 37.16", "--yes")
    assert code == 0, stderr
    assert "flag" in stdout and "duplicate" in stdout
    code, stdout, _ = _add(server, relief, tmp_path, "36.2006, 37.16", "--json", "--yes")
    answer = json.loads(stdout)
    assert answer["position"]["mgrs"].startswith("37S CA")
    assert "Aleppo" in answer["position"]["near"]
    assert any("duplicate" in f for f in answer["flags"])
    _, _, metres = Geod(ellps="WGS84").inv(
        37.16, 36.2006, answer["position"]["longitude"], answer["position"]["latitude"]
    )
    assert metres < 0.01


def test_the_position_endpoint_reads_back_what_was_typed(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    with server.client(parties["alpha"]) as a:
        found = a.get("/api/v1/position", q="37S CA 34576 07700")
        assert found["mgrs"] == "37S CA 34576 07700" and found["form"] == "mgrs"
        assert found["precision_m"] == 1.0 and "Aleppo governorate" in found["near"]
        response = a.http.get("/api/v1/position", params={"q": "37T CA 34576 07700"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "latitude band T" in response.json()["detail"]


def test_the_shared_table_through_parley_site_add(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs
) -> None:
    """Every typed position of tests/data/positions.json, through the real command, in-process;
    the hub serves Syria with a 50 km margin."""
    from importlib import resources

    from parley.geo.region import Region
    from parley.hub import setup

    from .formats.test_positions import CASES, expected, metres

    syria = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    setup.record_region(server.settings, Region.from_geojson(syria, 50_000, "Syria"))
    for case in CASES:
        size = server.hub.store.log_size()
        ran = parley_as(
            parties["relief"],
            *("site", "add", "--name", "Clinic (table)", "--category", "school"),
            *("--at", case["input"], "--radius", "50", "--yes", "--json"),
        )
        if "refused" in case or "outside_region" in case:
            assert ran.code == 1, (case["input"], ran.out)
            says = case.get("refused") or "outside the area this hub serves"
            assert says in ran.err, (case["input"], ran.err)
            if case.get("outside_region") == "swap":
                assert "swap latitude and longitude" in ran.err
            assert server.hub.store.log_size() == size, case["input"]
        else:
            assert ran.code == 0, (case["input"], ran.err)
            answer = json.loads(ran.out)
            got = (answer["position"]["latitude"], answer["position"]["longitude"])
            assert metres(got, expected(case)) <= case["tolerance_m"], case["input"]


def test_operation_notify_echoes_its_volumes_and_a_repeat_is_flagged(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    from .test_notices import movement
    from .test_screening_hub import operation

    alpha = parties["alpha"]
    body = tmp_path / "op.json"
    body.write_text(json.dumps(operation(37.16, 36.2, 500)))
    first = _run(server, alpha, tmp_path, "operation", "notify", str(body))
    assert first.returncode == 0, first.stderr
    assert "volume 1 centred at 36.20000, 37.16000" in first.stdout
    assert "Aleppo governorate" in first.stdout and "likely duplicate" not in first.stdout
    again = _run(server, alpha, tmp_path, "operation", "notify", str(body), "--json")
    answer = json.loads(again.stdout)
    first_id = first.stdout.split()[2]
    assert answer["flags"] == [
        f"likely duplicate of {first_id}: the same operation was already notified and is in force"
    ]
    assert "Aleppo" in answer["volumes"][0]["centre"]["near"]
    with server.client(parties["relief"]) as r:
        convoy = movement(72)
        assert not any("likely duplicate" in f for f in r.submit("movement", convoy)["flags"])
        assert any("likely duplicate" in f for f in r.submit("movement", convoy)["flags"])
    # Another party's identical operation is not a repeat of alpha's.
    with server.client(parties["bravo"]) as b:
        assert b.submit("operation", operation(37.16, 36.2, 500))["flags"] == []
