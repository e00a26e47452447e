"""The log as served by a real hub, on both backends: checkpoints, tiles, proofs, receipts, and
tampering with the database caught by `parley verify log`."""

from __future__ import annotations

import base64
import json
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parley.client.mirror import verify_remote
from parley.client.receipts import ReceiptError
from parley.client.receipts import verify as verify_receipt
from parley.errors import LogError
from parley.hub.logcheck import StoredLogError
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.log.verifier import VerifierState

from .conftest import PartyHandle, Server

SITE = {
    "category": "school",
    "name": "School",
    "geometry": {"type": "Point", "coordinates": [36.72, 34.73]},
    "radius_m": 150,
    "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
}


def fill(server: Server, party: PartyHandle, n: int, audience: Any = "all") -> list[dict[str, Any]]:
    with server.client(party) as client:
        return client.submit_batch([client.sign("site", SITE, audience) for _ in range(n)])


def receipt_of(server: Server, reader: PartyHandle, submission_id: str) -> dict[str, Any]:
    with server.client(reader) as client:
        deadline = time.monotonic() + 10
        while True:
            response = client.http.get(f"/api/v1/submissions/{submission_id}/receipt")
            if response.status_code == 200:
                found: dict[str, Any] = response.json()
                return found
            assert response.status_code == 202, response.text
            assert time.monotonic() < deadline, "no checkpoint within 10 s"
            time.sleep(0.05)


def log_key(server: Server) -> str:
    return httpx.get(f"{server.url}/log/verifier-key").text.strip()


def _spare_bit_set(text: str) -> str:
    """``text`` with the low bit of the character before its padding flipped: a spare bit."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    i = len(text.rstrip("=")) - 1
    assert i < len(text) - 1, "no padding, no spare bits"
    return text[:i] + alphabet[alphabet.index(text[i]) ^ 1] + text[i + 1 :]


def test_receipt_verifies_offline_and_detects_any_change(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    relief = parties["relief"]
    results = fill(server, relief, 5)
    secret = fill(server, relief, 1, ["relief", "alpha"])[0]
    key = log_key(server)

    receipt = receipt_of(server, relief, results[3]["id"])
    proven = verify_receipt(receipt, key, relief.key.public_key())
    assert proven["index"] == 3 and proven["party"] == "relief" and proven["kind"] == "site"

    restricted = receipt_of(server, parties["alpha"], secret["id"])
    assert verify_receipt(restricted, key)["audience"] == ["relief", "alpha"]
    assert receipt_of(server, relief, secret["id"])["submission"]["salt"]
    # the log itself shows only a salted digest for the restricted record
    entry = json.loads(base64.b64decode(restricted["entry"]))
    assert set(entry) == {"v", "received_at", "commitment"}

    # the CLI checks the same file with no access to the hub
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "verify",
            "receipt",
            str(path),
            "--log-key",
            key,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["index"] == 3

    # any change to what the receipt claims breaks it
    other_key = note.Signer.generate("parley.example/log").verifier().key_string()
    forged_jws = dict(
        receipt["submission"], jws=receipt_of(server, relief, results[2]["id"])["submission"]["jws"]
    )
    changes: list[dict[str, Any]] = [
        dict(receipt, index=2),
        dict(receipt, submission=forged_jws),
        dict(receipt, entry=base64.b64encode(b"{}").decode()),
        dict(receipt, inclusion_proof=receipt["inclusion_proof"][:-1]),
        dict(receipt, checkpoint=receipt["checkpoint"].replace("\n\n", "\n\n\n", 1)),
    ]
    for changed in changes:
        with pytest.raises((ReceiptError, LogError)):
            verify_receipt(changed, key)
    # The same bytes to a lenient base64 decoder, but not the bytes the hub sent.
    respelled = _spare_bit_set(receipt["inclusion_proof"][0])
    assert base64.b64decode(respelled) == base64.b64decode(receipt["inclusion_proof"][0])
    proof = [respelled, *receipt["inclusion_proof"][1:]]
    with pytest.raises(ReceiptError, match="inclusion proof is not canonical base64"):
        verify_receipt(dict(receipt, inclusion_proof=proof), key)
    with pytest.raises(LogError):
        verify_receipt(receipt, other_key)
    path.write_text(json.dumps(dict(receipt, index=2)))
    bad = subprocess.run(
        [sys.executable, "-m", "parley", "verify", "receipt", str(path), "--log-key", key],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_checkpoint_tiles_and_proofs_follow_the_standards(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    fill(server, relief, 300)
    server.hub.log.publish()
    key = note.Verifier.from_key(log_key(server))
    first = cp.verify_checkpoint(httpx.get(f"{server.url}/log/checkpoint").text, key, key.name)
    assert first.size == 300
    fill(server, relief, 20)
    server.hub.log.publish()
    second = cp.verify_checkpoint(httpx.get(f"{server.url}/log/checkpoint").text, key, key.name)
    assert second.size == 320

    # a full level-0 tile and the partial one, from C2SP tlog-tiles paths
    full = httpx.get(f"{server.url}/log/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 256 * 32
    assert "immutable" in full.headers["cache-control"]
    partial = httpx.get(f"{server.url}/log/tile/0/001.p/64")
    assert len(partial.content) == 64 * 32
    bundle = httpx.get(f"{server.url}/log/tile/entries/000").content
    from parley.log.tiles import parse_entry_bundle

    entries = parse_entry_bundle(bundle)
    assert merkle.leaf_hash(entries[7]) == full.content[7 * 32 : 8 * 32]

    proof = httpx.get(f"{server.url}/log/proof/inclusion", params={"index": 7, "size": 320})
    hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
    merkle.verify_inclusion(merkle.leaf_hash(entries[7]), 7, 320, hashes, second.root)

    consistency = httpx.get(
        f"{server.url}/log/proof/consistency", params={"from": 300, "to": 320}
    ).json()
    merkle.verify_consistency(
        300, 320, first.root, second.root, [base64.b64decode(h) for h in consistency["proof"]]
    )

    for bad in (
        "/log/tile/0/999",
        "/log/tile/0/000.p/0",
        "/log/tile/x/y",
        "/log/proof/inclusion?index=400&size=320",
        "/log/proof/consistency?from=20&to=10",
    ):
        response = httpx.get(f"{server.url}{bad}")
        assert 400 <= response.status_code < 500, bad
        assert response.headers["content-type"].startswith("application/problem+json")


def _tamper(server: Server, sql: str, **params: Any) -> None:
    engine = sa.create_engine(server.hub.store.engine.url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


def _restart(server: Server) -> None:
    """A fresh hub process reads the (tampered) database from scratch."""
    from parley.hub.hublog import HubLog
    from parley.parties.keys import load_private_key

    server.hub.log.close()
    server.hub.log = HubLog(
        server.hub.store,
        load_private_key(server.settings.hub_key_path),
        server.settings.origin,
        server.settings.checkpoint_interval_s,
    )


def test_verify_log_follows_growth_and_catches_a_changed_entry(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    relief = parties["relief"]
    state = tmp_path / "state.json"
    fill(server, relief, 40)
    server.hub.log.publish()
    key = log_key(server)
    assert verify_remote(server.url, key, state, progress=False)["size"] == 40
    fill(server, relief, 10)
    server.hub.log.publish()
    grown = verify_remote(server.url, key, state, progress=False)
    assert grown["size"] == 50 and grown["previous_size"] == 40

    (entry,) = server.hub.store.entries(17, 18)
    _tamper(server, "UPDATE log_entries SET entry = :e WHERE idx = 17", e=entry.replace(b"Z", b"z"))
    # the running hub's tiles no longer match its entries
    with pytest.raises(LogError, match="17"):
        verify_remote(server.url, key, None, progress=False)
    # a restarted hub refuses to rebuild its tree from the changed entry (it would sign a fork)
    with pytest.raises(StoredLogError, match=r"^entry 17 \(submission .*\) does not match"):
        _restart(server)
    # a verifier holding state re-hashes the entries it saw before and names the entry
    with pytest.raises(LogError, match="entry 17 changed"):
        verify_remote(server.url, key, state, progress=False)

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "verify",
            "log",
            server.url,
            "--log-key",
            key,
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "17" in done.stderr and "Traceback" not in done.stderr


def test_verify_log_catches_deleted_newest_entries(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    relief = parties["relief"]
    state = tmp_path / "state.json"
    fill(server, relief, 30)
    server.hub.log.publish()
    key = log_key(server)
    verify_remote(server.url, key, state, progress=False)
    saved = VerifierState.load(state)
    assert saved.size == 30

    # an operator removes the newest entries, their records and the checkpoints that cover them
    # (with the publisher stopped, or it signs checkpoint 30 again in between)
    server.hub.log.close()
    _tamper(server, "DELETE FROM audiences")
    _tamper(server, "DELETE FROM submissions WHERE log_index >= 25")
    _tamper(server, "DELETE FROM log_entries WHERE idx >= 25")
    _tamper(server, "DELETE FROM checkpoints")
    _tamper(server, "UPDATE log_state SET size = 25")
    _restart(server)
    server.hub.log.publish()
    with pytest.raises(LogError, match="shrank from 30 to 25"):
        verify_remote(server.url, key, state, progress=False)


def test_submission_answer_can_carry_its_receipt(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    with server.client(relief) as client:
        response = client.http.post(
            "/api/v1/submissions",
            content=client.sign("site", SITE),
            params={"receipt": 5},
            headers={"Content-Type": "application/jose"},
        )
    assert response.status_code == 201
    answer = response.json()
    proven = verify_receipt(answer["receipt"], log_key(server), relief.key.public_key())
    assert proven["index"] == answer["sequence"] == 0
