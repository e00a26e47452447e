"""The area a hub serves, end to end: set as a hub entry in the log, enforced on every kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from parley.client.http import HubError
from parley.geo.region import Region
from parley.hub import setup
from parley.hub.core import REGION_TTL_S

from .conftest import PartyHandle, Server
from .test_cli_notify import _run
from .test_screening_hub import operation, site

SYRIA = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()


@pytest.fixture
def served(server: Server) -> Server:
    setup.record_region(server.settings, Region.from_geojson(SYRIA, 50_000, "Syria"))
    return server


def test_swapped_axes_and_far_records_are_refused_and_nothing_is_stored(
    served: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    size = served.hub.store.log_size()
    with served.client(relief) as r:
        with pytest.raises(HubError) as swapped:
            r.submit("site", site(36.2, 37.16))  # lon/lat of "37.16, 36.2" typed lat-first
        assert swapped.value.status == 422
        assert "swap latitude and longitude" in str(swapped.value)
        assert swapped.value.body["field"] == "body.geometry"
        with pytest.raises(HubError) as japan:
            r.submit("site", site(137.16, 36.2))
        assert "km away" in str(japan.value) and "swap" not in str(japan.value)
        assert "Syria, with a 50 km margin" in str(japan.value)
    with served.client(alpha) as a:
        with pytest.raises(HubError) as far_op:
            a.submit("operation", operation(137.16, 36.2, 500))
        assert far_op.value.body["field"] == "body.volumes[0].footprint"
    assert served.hub.store.log_size() == size
    with served.client(relief) as r:
        r.submit("site", site(37.16, 36.2))  # Aleppo


def test_every_party_sees_the_area_change_in_the_log(
    served: Server, parties: dict[str, PartyHandle]
) -> None:
    with served.client(parties["charlie"]) as c:
        items = c.get("/api/v1/submissions", kind="hub-region")["items"]
    (change,) = items
    assert change["party"] == "hub"
    geometry = change["document"]["body"]["region"]
    assert geometry["properties"] == {"name": "Syria", "margin_m": 50_000}
    with served.client(parties["charlie"]) as c:
        receipt = c.get(f"/api/v1/submissions/{change['id']}/receipt", wait=5)
    assert receipt["index"] == change["sequence"]
    # Clearing the area is a change too, and positions anywhere are accepted again.
    setup.record_region(served.settings, None)
    served.hub.refresh_region(force=True)  # the hub follows within a second; the test won't wait
    with served.client(parties["relief"]) as r:
        r.submit("site", site(137.16, 36.2))


def test_the_cli_sets_the_area_and_site_add_explains_a_swap(
    served: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    refused = _run(
        served,
        parties["relief"],
        tmp_path,
        "site",
        "add",
        "--name",
        "Clinic",
        "--category",
        "health-post",
        "--at",
        "37.16, 36.2",
        "--radius",
        "100",
    )
    assert refused.returncode == 1
    assert "did you swap latitude and longitude" in refused.stderr.lower()
    area = tmp_path / "box.geojson"
    area.write_text(
        json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    )
    env = {**os.environ}
    if served.settings.database_url:
        env["PARLEY_DATABASE_URL"] = served.settings.database_url
    command = ["region", "set", str(area), "--margin", "10", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "parley", *command, "--data", str(served.settings.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["margin_km"] == 10
    # A running hub takes a new area within a second (docs/positions.md): on a fast machine the
    # command above finishes inside the second after the refused submission's read.
    time.sleep(REGION_TTL_S)
    with served.client(parties["relief"]) as r:
        with pytest.raises(HubError, match="box, with a 10 km margin"):
            r.submit("site", site(37.16, 36.2))
        r.submit("site", site(0.5, 0.5))


def test_an_area_map_proposal_with_an_area_outside_is_refused(
    served: Server, parties: dict[str, PartyHandle]
) -> None:
    from .test_area_maps import proposal, square

    inside = {"id": "a", "rule": "no-operations", "geometry": square(37.0, 36.0)}
    outside = {"id": "b", "rule": "no-operations", "geometry": square(36.0, 37.2)}  # swapped
    with served.client(parties["alpha"]) as a:
        with pytest.raises(HubError) as caught:
            a.submit("area-map", proposal(1, [inside, outside]))
        assert caught.value.body["field"] == "body.areas[1].geometry"
        assert "swap" in str(caught.value)
        a.submit("area-map", proposal(1, [inside]))
