"""A party checks receipts and the log against its own witness policy (issue 13, item 4):
`parley verify receipt|log --policy` refuse a checkpoint without the quorum's cosignatures and
say who cosigned; `verify log --state` binds the state to the log's key, not only its origin;
the hub publishes the policy the page uses at /log/policy."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from parley import config
from parley.api.app import create_app
from parley.config import Settings
from parley.hub import setup
from parley.hub.core import Hub
from parley.log import note
from parley.log.policy import Policy
from parley.witness import datadir
from parley.witness.app import app_for

from .conftest import PartyHandle, Server
from .test_hub_witnesses import Running, _serve
from .test_screening_hub import site


@dataclass
class Cosigned:
    url: str
    hub: Hub
    settings: Settings
    log_key: str
    witness_keys: list[str]  # cosignature verifier keys, w0..w2
    receipt: Path


@pytest.fixture
def cosigned(
    tmp_path: Path, settings: Settings, parties: dict[str, PartyHandle]
) -> Iterator[Cosigned]:
    """A hub with three in-process witnesses and one receipt they cosigned."""
    running: list[Running] = []
    keys = []
    for i in range(3):
        data = tmp_path / f"witness{i}"
        signer = datadir.init(data, f"witness.test/w{i}")
        datadir.add_log(data, settings.origin, setup.verifier_key(settings))
        running.append(_serve(app_for(data)))
        keys.append(signer.verifier().key_string())
    settings = replace(
        settings, witnesses=tuple(f"{r.url} {k}" for r, k in zip(running, keys, strict=True))
    )
    hub = Hub(settings)
    served = _serve(create_app(settings, hub))
    try:
        with Server(served.url, hub, settings).client(parties["relief"]) as r:
            made = r.submit("site", site(37.1, 36.2))
            receipt = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
        path = tmp_path / "receipt.json"
        path.write_text(json.dumps(receipt))
        yield Cosigned(served.url, hub, settings, setup.verifier_key(settings), keys, path)
    finally:
        served.stop()
        hub.close()
        for r in running:
            r.stop()


def _parley(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"policy-{abs(hash(text))}.txt"
    path.write_text(text)
    return path


def _two_of_three(c: Cosigned) -> str:
    return (
        "".join(f"witness w{i} {k}\n" for i, k in enumerate(c.witness_keys))
        + "group two 2 w0 w1 w2\nquorum two\n"
    )


def _absent_witness(c: Cosigned) -> str:
    """A policy that needs w0 and a witness that never saw the log."""
    absent = note.CosignatureSigner.generate("witness.test/absent").verifier().key_string()
    return (
        f"witness w0 {c.witness_keys[0]}\nwitness absent {absent}\n"
        "group both all w0 absent\nquorum both\n"
    )


def test_a_receipt_meeting_the_quorum_verifies_and_one_without_is_refused(
    cosigned: Cosigned, tmp_path: Path
) -> None:
    c = cosigned
    ok = _parley(
        "verify", "receipt", c.receipt, "--log-key", c.log_key,
        "--policy", _policy(tmp_path, _two_of_three(c)), "--json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    proven = json.loads(ok.stdout)
    assert proven["policy_checked"] is True
    assert sorted(x["witness"] for x in proven["cosignatures"]) == ["w0", "w1", "w2"]
    assert all(isinstance(x["time"], int) for x in proven["cosignatures"])

    refused = _parley(
        "verify", "receipt", c.receipt, "--log-key", c.log_key,
        "--policy", _policy(tmp_path, _absent_witness(c)),
    )  # fmt: skip
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "lacks the cosignatures" in message, message
    assert "a cosignature by absent" in message and "valid cosignatures from: w0" in message

    # Without --policy the receipt verifies as before: the hub's signature alone.
    plain = _parley("verify", "receipt", c.receipt, "--log-key", c.log_key, "--json")
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["policy_checked"] is False


def test_verify_log_refuses_a_checkpoint_without_the_quorum(
    cosigned: Cosigned, tmp_path: Path
) -> None:
    c = cosigned
    ok = _parley(
        "verify", "log", c.url, "--log-key", c.log_key,
        "--policy", _policy(tmp_path, _two_of_three(c)), "--json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["cosignatures"]) == 3
    refused = _parley(
        "verify", "log", c.url, "--log-key", c.log_key, "--state", tmp_path / "state.json",
        "--policy", _policy(tmp_path, _absent_witness(c)),
    )  # fmt: skip
    assert refused.returncode != 0
    assert "lacks the cosignatures" in " ".join(refused.stderr.split())
    assert not (tmp_path / "state.json").exists()  # nothing was accepted


def test_the_hub_publishes_its_policy_and_its_checkpoints_meet_it(cosigned: Cosigned) -> None:
    c = cosigned
    text = httpx.get(f"{c.url}/log/policy").text
    policy = Policy.parse(text)
    assert policy.log_key == c.log_key
    assert sorted(w.key_string() for w in policy.witnesses.values()) == sorted(c.witness_keys)
    checkpoint = httpx.get(f"{c.url}/log/checkpoint").text
    _, names = policy.check(checkpoint, note.Verifier.from_key(c.log_key), c.settings.origin)
    assert len(names) == 3
    # The checkpoint without its cosignatures (the hub's signature alone) does not.
    bare = checkpoint.split("\n\n")[0] + "\n\n" + checkpoint.split("\n\n")[1].split("\n")[0] + "\n"
    with pytest.raises(Exception, match="lacks the cosignatures"):
        policy.check(bare, note.Verifier.from_key(c.log_key), c.settings.origin)


def test_a_hub_without_witnesses_publishes_quorum_none(server: Server) -> None:
    text = httpx.get(f"{server.url}/log/policy").text
    assert "quorum none" in text and Policy.parse(text).quorum is None


def test_the_verifier_state_is_bound_to_the_log_key(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    """Another hub with the same origin but its own key: its log is another log, not a
    rewrite of the first."""
    with server.client(parties["relief"]) as r:
        made = r.submit("site", site(37.1, 36.2))
        r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
    state = tmp_path / "state.json"
    key = setup.verifier_key(server.settings)
    first = _parley("verify", "log", server.url, "--log-key", key, "--state", state)
    assert first.returncode == 0, first.stderr
    assert json.loads(state.read_text())["log_key"] == key

    other_data = tmp_path / "other"
    setup.init(other_data, None, server.settings.origin)
    other = config.load(other_data)
    other_hub = Hub(other)
    served = _serve(create_app(other, other_hub))
    try:
        other_key = setup.verifier_key(other)
        assert other_key != key and other_key.split("+")[0] == key.split("+")[0]
        refused = _parley("verify", "log", served.url, "--log-key", other_key, "--state", state)
    finally:
        served.stop()
        other_hub.close()
    assert refused.returncode != 0
    message = " ".join(refused.stderr.split())
    assert "another log key" in message, message
    assert "rewrote" not in message and "shrank" not in message
