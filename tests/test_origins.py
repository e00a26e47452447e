"""Every hub gets a log origin of its own, said out loud; a bad --origin is refused up front."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _init(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", "init", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_two_hubs_initialised_without_origin_get_different_ones(tmp_path: Path) -> None:
    made = [_init("--data", str(tmp_path / name), "--json") for name in ("a", "b")]
    assert all(m.returncode == 0 for m in made), [m.stderr for m in made]
    origins = [json.loads(m.stdout)["origin"] for m in made]
    assert origins[0] != origins[1]
    assert all(json.loads(m.stdout)["origin_derived"] for m in made)
    assert all("parley.example" not in o and " " not in o for o in origins)
    human = _init("--data", str(tmp_path / "c"))
    assert "(derived; --origin chooses one" in human.stdout


def test_a_chosen_origin_is_kept_and_a_bad_one_refused(tmp_path: Path) -> None:
    done = _init("--data", str(tmp_path / "a"), "--origin", "hub.example.org/log", "--json")
    assert json.loads(done.stdout)["origin"] == "hub.example.org/log"
    bad = _init("--data", str(tmp_path / "b"), "--origin", "two words")
    assert bad.returncode == 1 and "'two words' cannot name a log" in bad.stderr
    assert not (tmp_path / "b").exists()
