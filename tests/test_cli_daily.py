"""The reading commands a liaison officer and a notifier live in, in-process against a real hub:
each command's human output names records (kind, name, short id) and ends with counts, and its
--json parses as the documented form (an array)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import ParleyAs, PartyHandle, Server
from .test_screening_hub import WINDOW, operation

UUID_ONLY = re.compile(r"^\W*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\W*$")


class Runner:
    def __init__(self, parley_as: ParleyAs) -> None:
        self.parley_as = parley_as

    def __call__(self, party: PartyHandle, *args: str, code: int = 0) -> str:
        ran = self.parley_as(party, *args)
        assert ran.code == code, (args, ran.out, ran.err)
        if code == 0 and "--json" not in args:
            for line in ran.out.splitlines():
                assert not UUID_ONLY.match(line), (args, line)
        return ran.out if code == 0 else ran.err

    def json(self, party: PartyHandle, *args: str) -> Any:
        return json.loads(self(party, *args, "--json"))


def test_a_shift_through_the_reading_commands(
    server: Server,
    parties: dict[str, PartyHandle],
    tmp_path: Path,
    parley_as: ParleyAs,
) -> None:
    run = Runner(parley_as)
    relief, alpha, bravo, monitor = (parties[p] for p in ("relief", "alpha", "bravo", "monitor"))
    added = run.json(
        relief,
        "site",
        "add",
        "--name",
        "Al-Razi",
        "--category",
        "hospital",
        "--at",
        "36.2, 37.16",
        "--radius",
        "300",
        "--yes",
    )
    site_id = added["id"]
    label = f'hospital "Al-Razi" (site {site_id[:8]})'

    # Notifying an operation that meets the site: one line per conflict, by name, and a count.
    body = tmp_path / "op.json"
    body.write_text(json.dumps({**operation(37.16, 36.2, 500), "name": "Dawn"}))
    notified = run(alpha, "operation", "notify", str(body))
    assert 'volume 1 of operation "Dawn"' in notified and label in notified
    assert "1 conflict: 1 critical protected-site" in notified
    op_id = run.json(alpha, "operation", "list")[0]["id"]

    listed = run(alpha, "site", "list", "--category", "hospital")
    assert label in listed and "acknowledged by nobody" in listed
    assert listed.splitlines()[-1] == "1 site, 0 acknowledged"
    (only,) = run.json(alpha, "site", "list", "--near", "36.201, 37.16", "--within", "500")
    assert only["id"] == site_id and only["distance_m"] == pytest.approx(111, abs=2)
    assert run.json(alpha, "site", "list", "--near", "35, 37", "--within", "500") == []

    owed = run(alpha, "unacknowledged")
    assert label in owed and owed.splitlines()[-1] == "1 site to acknowledge"
    assert "only members acknowledge" in run(relief, "unacknowledged", code=1)
    run(alpha, "ack", site_id)
    shown = run(relief, "site", "show", site_id[:8])
    assert label in shown and "acknowledged by alpha at 20" in shown
    assert run.json(relief, "site", "show", site_id)["acknowledged_by"][0]["party"] == "alpha"
    assert run.json(alpha, "site", "list", "--unacknowledged", "--by", "alpha") == []

    ops = run(alpha, "operation", "list")
    assert f'operation "Dawn" (operation {op_id[:8]}) by alpha: planned' in ops
    assert ops.splitlines()[-1] == "1 operation: 1 planned"
    detail = run(alpha, "operation", "show", op_id)
    assert "volume 1: 36.2" in detail and label in detail
    assert run.json(alpha, "operation", "show", op_id)["conflicts"][0]["kind"] == "protected-site"

    conflicts = run(alpha, "conflicts", "--severity", "critical")
    assert label in conflicts and "1 conflict" in conflicts.splitlines()[-1]
    (conflict,) = run.json(alpha, "conflicts", "--kind", "protected-site")
    assert conflict["record"] is not None and len(conflict["id"]) == 36
    assert run.json(alpha, "conflicts", "--kind", "movement") == []

    # A convoy through the operation's circle.
    moved = run(
        relief,
        "movement",
        "add",
        "--name",
        "Convoy 7",
        "--route",
        "36.19, 37.15",
        "--route",
        "36°12'36\"N 37°10'12\"E",
        "--corridor",
        "200",
        "--start",
        WINDOW["start"],
        "--end",
        WINDOW["end"],
    )
    assert "point 2 at 36.21000, 37.17000" in moved
    movements = run(bravo, "movement", "list")
    assert 'movement "Convoy 7" (movement ' in movements
    assert movements.splitlines()[-1] == "1 movement"
    (convoy,) = run.json(bravo, "movement", "list")
    assert convoy["corridor_m"] == 200 and len(convoy["route"]) == 2

    alerts = run(alpha, "alerts")
    assert label in alerts and 'movement "Convoy 7"' in alerts
    assert alerts.splitlines()[-1] == "2 alerts, 2 new"
    assert "no alerts" in run(monitor, "alerts")
    acked = run(alpha, "alerts", "ack", "--all")
    assert acked.splitlines()[-1] == "2 alerts acknowledged"
    assert run.json(alpha, "alerts", "--new") == []
    assert len(run.json(alpha, "alerts", "--kind", "movement")) == 1

    resolved = run(alpha, "resolve", conflict["id"], "--outcome", "amended")
    assert "resolved (amended)" in resolved and label in resolved

    withdrawn = run(relief, "withdraw", convoy["id"])
    assert 'withdrew movement "Convoy 7"' in withdrawn

    run(monitor, "incident", "add", "--at", "36.2, 37.16", "--description", "shelling reported")
    incidents = run(alpha, "incident", "list")
    assert "shelling reported" in incidents and incidents.splitlines()[-1] == "1 incident"
    (reported,) = run.json(alpha, "incident", "list")
    assert reported["party"] == "monitor" and reported["position"]["decimal"].startswith("36.2")


def test_a_receipt_says_what_it_proves(
    server: Server,
    parties: dict[str, PartyHandle],
    tmp_path: Path,
    parley_as: ParleyAs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    run = Runner(parley_as)
    relief = parties["relief"]
    added = run.json(
        relief,
        "site",
        "add",
        "--name",
        "Al-Razi",
        "--category",
        "hospital",
        "--at",
        "36.2, 37.16",
        "--radius",
        "300",
        "--yes",
        "--audience",
        "alpha",
    )
    receipt = tmp_path / "receipt.json"
    run(relief, "receipt", added["id"], "--out", str(receipt))
    monkeypatch.delenv("PARLEY_LOG_KEY", raising=False)
    missing = run(relief, "verify", "receipt", str(receipt), code=1)
    assert "PARLEY_LOG_KEY" in missing and "/log/verifier-key" in missing
    assert "parley init" in missing
    monkeypatch.setenv("PARLEY_LOG_KEY", httpx.get(f"{server.url}/log/verifier-key").text.strip())
    proven = run(relief, "verify", "receipt", str(receipt))
    assert 'hospital "Al-Razi" (site)' in proven
    assert "at 36.20000, 37.16000 · 36°12′00.0″N 37°09′36.0″E · 37S CA 34576 07700" in proven
    assert "radius 300" in proven and "audience: alpha" in proven
    assert f"received {added['received_at']}" in proven
    data = run.json(relief, "verify", "receipt", str(receipt))
    assert data["notified"]["position"]["mgrs"].startswith("37S")

    # A hub's refusal names the request it refused.
    refused = run(relief, "site", "show", "0" * 8, code=1)
    assert "no site 00000000" in refused
    gone = run(relief, "receipt", "f" * 36, code=1)
    assert f"{server.url}/api/v1/submissions/{'f' * 36}/receipt" in gone


def test_a_short_id_that_starts_two_sites_asks_for_more(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs
) -> None:
    """Short ids are the first characters of random ids, so two can share them: the command
    says so and asks for more, rather than saying there is no such site."""
    run = Runner(parley_as)
    relief, alpha = parties["relief"], parties["alpha"]
    ids = []
    for name, at in (("Al-Razi", "36.2, 37.16"), ("Al-Amal", "36.3, 37.3")):
        args = ("--name", name, "--category", "hospital", "--at", at, "--radius", "100", "--yes")
        ids.append(run.json(relief, "site", "add", *args)["id"])
    run(alpha, "ack", ids[0])  # an acknowledgement's id starting the same way is no site's
    differ = next(i for i, (a, b) in enumerate(zip(*ids, strict=True)) if a != b)
    shared = ids[0][:differ]  # often empty: then every site's id starts with it
    asked = run(relief, "site", "show", shared, code=1)
    assert f"{shared!r} is the start of 2 sites' ids you may see: give more of the id" in asked
    one_more = ids[1][: len(shared) + 1]
    assert run.json(relief, "site", "show", one_more)["id"] == ids[1]
    assert "no site" in run(relief, "site", "show", "f" * 36, code=1)


def test_the_demo_prints_runnable_lines_with_the_real_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shlex
    import sys

    from parley.cli import demo

    summary = {
        "url": "http://127.0.0.1:8000",
        "data_dir": str(tmp_path),
        "verifier_key": "vm/parley+1234abcd+AAAA",
        "parties": [
            {"id": p, "role": r, "token": f"tok-{p}", "key_file": f"{tmp_path}/keys/{p}.key.json"}
            for p, r in (("alpha", "member"), ("relief", "notifier"), ("monitor", "observer"))
        ],
        "submissions": {"site": 12, "operation": 3},
        "conflicts": {"protected-site": 4},
    }
    monkeypatch.setenv("PATH", str(tmp_path))  # no parley on PATH
    text = demo.describe(summary)
    assert "…" not in text and "{'" not in text and "['" not in text
    assert "submissions: 12 site, 3 operation" in text
    assert "conflicts raised: 4 protected-site" in text
    (line,) = [x for x in text.splitlines() if x.endswith("alerts --follow")]
    words = shlex.split(line)
    assert "PARLEY_TOKEN=tok-alpha" in words
    assert f"PARLEY_KEY={tmp_path}/keys/alpha.key.json" in words
    assert Path(words[-3]).resolve() == (Path(sys.executable).parent / "parley").resolve()
    assert any(
        x.endswith("parley site list") and "PARLEY_PARTY=relief" in x for x in text.splitlines()
    )
