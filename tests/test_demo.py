"""`parley demo` builds a real scenario from the bundled public data."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path


def test_demo_builds_scenario_and_writes_demo_json(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "PARLEY_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "parley", "demo", "--data", str(data), "--no-serve", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    demo = json.loads((data / "demo.json").read_text())
    assert stat.S_IMODE((data / "demo.json").stat().st_mode) == 0o600
    assert {p["id"] for p in demo["parties"]} >= {"alpha", "bravo", "charlie", "relief", "monitor"}
    for p in demo["parties"]:
        assert p["token"].startswith("pt_") and Path(p["key_file"]).exists()
    assert summary["submissions"]["site"] >= 500
    # the scenario raises every kind of conflict screening knows
    assert set(summary["conflicts"]) == {"protected-site", "area-rule", "deconfliction", "movement"}
    assert "generated" in summary["attribution"]
    again = subprocess.run(
        [sys.executable, "-m", "parley", "demo", "--data", str(data), "--no-serve", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert again.returncode == 0 and json.loads(again.stdout)["parties"] == demo["parties"]


def test_demo_serves_checkpoints_cosigned_by_a_witness_per_member(tmp_path: Path) -> None:
    """`parley demo` runs a witness for each member; its checkpoints meet its published
    policy, which needs all of them."""
    import time

    import httpx

    from parley.log import note
    from parley.log.policy import Policy

    from .conftest import free_port

    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "PARLEY_DATABASE_URL"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "demo.log").open("w")
    served = subprocess.Popen(
        [sys.executable, "-m", "parley", "demo", "--data", str(data), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert served.poll() is None and time.monotonic() < deadline, (
                tmp_path / "demo.log"
            ).read_text()
            time.sleep(0.2)
        policy = Policy.parse(httpx.get(f"{url}/log/policy").text)
        members = {"alpha", "bravo", "charlie"}
        assert {w.name for w in policy.witnesses.values()} == {
            f"witness.parley.demo/{m}" for m in members
        }
        assert policy.log_key is not None
        signed = httpx.get(f"{url}/log/checkpoint").text
        checkpoint, names = policy.check(
            signed, note.Verifier.from_key(policy.log_key), policy.log_key.split("+")[0]
        )
        assert checkpoint.size > 500 and len(names) == 3
    finally:
        served.terminate()
        served.wait(timeout=15)
        log.close()
