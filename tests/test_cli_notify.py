"""Notifying from the command line, against a real hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyproj import Geod

from parley.errors import BadRequest
from parley.formats.coordinates import parse_position
from parley.parties import keys

from .conftest import PartyHandle, Server
from .test_screening_hub import operation


def test_positions_in_the_formats_the_field_types() -> None:
    assert parse_position("36.2, 37.16") == (36.2, 37.16)
    lat, lon = parse_position("36°12'07\"N 37°09'40\"E")
    assert (lat, lon) == pytest.approx((36 + 12 / 60 + 7 / 3600, 37 + 9 / 60 + 40 / 3600))
    assert parse_position("33°30'S 70°40'W") == pytest.approx((-33.5, -70 - 40 / 60))
    # MGRS 1 m reference for a point near Aleppo lands within 1.5 m of it
    lat, lon = parse_position("37S CA 34576 07700")
    _, _, metres = Geod(ellps="WGS84").inv(37.16, 36.2, lon, lat)
    assert metres < 1.5
    for bad in ("91, 10", "hello", "36N 37X", "99ZZZ1"):
        with pytest.raises(BadRequest):
            parse_position(bad)


def _run(
    server: Server, party: PartyHandle, tmp: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    key = tmp / f"{party.id}.key.json"
    if not key.exists():
        keys.write_private_key(key, party.key)
    env = {
        **os.environ,
        "PARLEY_HUB": server.url,
        "PARLEY_PARTY": party.id,
        "PARLEY_KEY": str(key),
        "PARLEY_TOKEN": party.token,
    }
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_site_operation_ack_and_alerts_from_the_cli(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    added = _run(
        server,
        relief,
        tmp_path,
        "site",
        "add",
        "--name",
        "Clinic",
        "--category",
        "health-post",
        "--at",
        "36°12'00\"N 37°09'36\"E",
        "--radius",
        "250",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    site = json.loads(added.stdout)
    body = tmp_path / "op.json"
    body.write_text(json.dumps(operation(37.16, 36.2, 500)))
    notified = _run(server, alpha, tmp_path, "operation", "notify", str(body))
    assert notified.returncode == 0, notified.stderr
    assert "critical protected-site" in notified.stdout
    listed = _run(server, alpha, tmp_path, "alerts", "--json")
    (alert,) = json.loads(listed.stdout)
    assert alert["conflict"]["other"] == site["id"]
    assert _run(server, alpha, tmp_path, "ack", site["id"]).returncode == 0
    again = _run(server, alpha, tmp_path, "ack", site["id"])
    assert again.returncode == 1 and "already acknowledged" in again.stderr
    bad = _run(
        server,
        relief,
        tmp_path,
        "site",
        "add",
        "--name",
        "X",
        "--category",
        "school",
        "--at",
        "200, 10",
        "--radius",
        "10",
    )
    assert bad.returncode == 1 and "latitude 200 is beyond" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_stix_export_holds_only_what_the_party_may_see(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    import stix2validator

    from .test_screening_hub import site

    relief, charlie = parties["relief"], parties["charlie"]
    with server.client(relief) as r:
        shared = r.submit("site", site(37.16, 36.2))
        secret = r.submit("site", site(38.0, 35.0), ["relief", "bravo"])
    done = _run(server, charlie, tmp_path, "export", "--format", "stix")
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    assert bundle["type"] == "bundle"
    assert shared["id"] in done.stdout and secret["id"] not in done.stdout
    assert stix2validator.validate_instance(bundle).is_valid
