"""The CLI as a user runs it: a real process, real files, a real hub over HTTP."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from .conftest import Server

PARLEY = [sys.executable, "-m", "parley"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PARLEY_DATABASE_URL", None)
    return subprocess.run(
        [*PARLEY, *args], capture_output=True, text=True, env=full_env, timeout=60
    )


def test_init_keygen_party_add_list(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    done = run("init", "--data", str(data), "--origin", "test.parley/log", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["verifier_key"].startswith("test.parley/log+")
    assert stat.S_IMODE((data / "hub.key").stat().st_mode) == 0o600
    assert (data / "parley.db").exists() and (data / "parley.toml").exists()

    key = tmp_path / "alpha.key.json"
    made = run("keygen", "--out", str(key), "--json")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert run("keygen", "--out", str(key)).returncode != 0  # never overwrites a key

    pub = json.loads(made.stdout)["public_key"]
    added = run(
        "party",
        "add",
        "alpha",
        "--name",
        "Alpha",
        "--role",
        "member",
        "--public-key",
        pub,
        "--data",
        str(data),
        "--json",
    )
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    assert token.startswith("pt_")
    assert token not in (data / "parley.db").read_bytes().decode("latin-1")

    again = run(
        "party",
        "add",
        "alpha",
        "--name",
        "Alpha",
        "--role",
        "member",
        "--public-key",
        pub,
        "--data",
        str(data),
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    listed = json.loads(run("party", "list", "--data", str(data), "--json").stdout)
    assert [p["id"] for p in listed] == ["alpha"]


def test_every_command_has_help() -> None:
    for command in (
        ["--help"],
        ["init", "--help"],
        ["serve", "--help"],
        ["keygen", "--help"],
        ["party", "add", "--help"],
        ["party", "list", "--help"],
        ["submit", "--help"],
        ["demo", "--help"],
    ):
        done = run(*command)
        assert done.returncode == 0 and "Usage:" in done.stdout, command


def test_clear_errors_and_nonzero_exit(tmp_path: Path) -> None:
    missing = run("party", "list", "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "parley init" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_role = run("party", "add", "x", "--name", "X", "--role", "king", "--public-key", "k")
    assert bad_role.returncode == 2 and "Traceback" not in bad_role.stderr
    run("init", "--data", str(tmp_path / "d"))
    not_a_key = tmp_path / "junk.json"
    not_a_key.write_text("[]")
    bad_key = run(
        "party",
        "add",
        "x",
        "--name",
        "X",
        "--role",
        "member",
        "--public-key",
        str(not_a_key),
        "--data",
        str(tmp_path / "d"),
    )
    assert bad_key.returncode == 1 and "JSON Web Key" in bad_key.stderr


def test_submit_signs_and_sends(server: Server, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from parley.hub import setup
    from parley.parties import keys

    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "n.key.json"
    keys.write_private_key(key_file, key)
    token = setup.add_party(server.settings, "ngo", "NGO", "notifier", key.public_key())
    body = tmp_path / "site.json"
    body.write_text(
        json.dumps(
            {
                "category": "school",
                "name": "School",
                "geometry": {"type": "Point", "coordinates": [36.7, 34.7]},
                "radius_m": 100,
                "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
            }
        )
    )
    common = [
        "submit",
        "--hub",
        server.url,
        "--party",
        "ngo",
        "--key",
        str(key_file),
        "--token",
        token,
    ]
    done = run(*common, "site", str(body), "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["sequence"] == 0
    refused = run(*common, "operation", str(body))
    assert refused.returncode == 1 and "may submit" in refused.stderr
    assert server.hub.store.log_size() == 1
