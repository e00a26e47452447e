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
