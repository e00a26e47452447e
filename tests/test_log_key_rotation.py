"""Rotating the hub's log key (issue 16, item 5): `parley log rotate-key` announces the new key
in a checkpoint both keys sign; the running hub switches; receipts made under the old key keep
verifying; verifiers that pinned an older key follow the chain (and refuse a forged one);
witnesses learn the new key only from a checkpoint both keys signed."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from parley.api.app import create_app
from parley.config import Settings
from parley.errors import CheckpointError
from parley.hub import setup
from parley.hub.core import Hub
from parley.log import keychain, merkle, note
from parley.log.checkpoint import Checkpoint, sign_checkpoint
from parley.log.policy import policy_text
from parley.mirroring.datadir import db_path as mirror_db
from parley.mirroring.run import run
from parley.mirroring.store import MirrorStore
from parley.witness import datadir
from parley.witness.app import app_for
from parley.witness.protocol import NoTrustedSignature, Witness, request_body

from .conftest import ParleyAs, PartyHandle, Server
from .test_hub_witnesses import _serve
from .test_screening_hub import site

ORIGIN = "rotation.test/log"


def _rotate(parley_as: ParleyAs, party: PartyHandle, server: Server) -> dict[str, object]:
    args = ["log", "rotate-key", "--data", str(server.settings.data_dir), "--json"]
    if server.settings.database_url:
        args += ["--database", server.settings.database_url]
    ran = parley_as(party, *args)
    assert ran.code == 0, ran.err
    result: dict[str, object] = json.loads(ran.out)
    deadline = time.monotonic() + 15
    while server.hub.log.verifier_key != result["new_key"]:
        assert time.monotonic() < deadline, "the running hub did not switch to the new key"
        time.sleep(0.05)
    return result


def _receipt(server: Server, party: PartyHandle, tmp_path: Path, name: str) -> Path:
    with server.client(party) as r:
        made = r.submit("site", site(37.1, 36.2))
        receipt = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(receipt))
    return path


def _verify_receipt(parley_as: ParleyAs, party: PartyHandle, path: Path, key: str) -> dict:  # type: ignore[type-arg]
    ran = parley_as(party, "verify", "receipt", str(path), "--log-key", key, "--json")
    assert ran.code == 0, ran.err
    return json.loads(ran.out)  # type: ignore[no-any-return]


def test_rotation_keeps_old_receipts_and_pinned_verifiers_follow_the_chain(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs, tmp_path: Path
) -> None:
    relief = parties["relief"]
    first_key = setup.verifier_key(server.settings)
    old_receipt = _receipt(server, relief, tmp_path, "before")
    state = tmp_path / "state.json"
    pinned = parley_as(
        relief, "verify", "log", server.url, "--log-key", first_key, "--state", str(state)
    )
    assert pinned.code == 0, pinned.err

    rotated = _rotate(parley_as, relief, server)
    assert rotated["old_key"] == first_key and rotated["new_key"] != first_key
    new_key = str(rotated["new_key"])
    # The old private key is kept, the new one beside it.
    assert server.settings.hub_key_path.exists() and Path(str(rotated["key_file"])).exists()
    assert httpx.get(f"{server.url}/log/verifier-key").text.strip() == new_key
    history = httpx.get(f"{server.url}/log/key-rotations").json()
    assert history["key"] == new_key and len(history["rotations"]) == 1

    new_receipt = _receipt(server, relief, tmp_path, "after")
    signed = json.loads(new_receipt.read_text())["checkpoint"]
    with pytest.raises(CheckpointError):  # the old key alone no longer signs the log
        note.open_note(signed, [note.Verifier.from_key(first_key)])

    # A receipt made under the old key still verifies with it, and with the new key.
    assert _verify_receipt(parley_as, relief, old_receipt, first_key)["index"] == 0
    # A party given only the new key checks old receipts with the hub's key history.
    alone = parley_as(relief, "verify", "receipt", str(old_receipt), "--log-key", new_key)
    assert alone.code != 0 and "no signature by a known key" in alone.err
    saved = tmp_path / "key-history.json"
    saved.write_text(json.dumps(history))
    ran = parley_as(
        relief, "verify", "receipt", str(old_receipt), "--log-key", new_key,
        "--key-history", str(saved), "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["log_key"] == first_key
    # One made after the rotation verifies for a party that pinned the old key only through
    # the chain both keys signed.
    proven = _verify_receipt(parley_as, relief, new_receipt, first_key)
    assert proven["log_key"] == new_key and proven["key_rotations_followed"] == 1

    again = parley_as(
        relief, "verify", "log", server.url, "--log-key", first_key, "--state", str(state),
        "--json",
    )  # fmt: skip
    assert again.code == 0, again.err
    result = json.loads(again.out)
    assert result["log_key"] == new_key and result["previous_size"] == 1
    assert len(json.loads(state.read_text())["key_rotations"]) == 1

    # A hub restarted on this database signs with the key in force.
    restarted = Hub(server.settings)
    try:
        assert restarted.log.verifier_key == new_key
    finally:
        restarted.close()


def test_rotating_twice_a_verifier_pinned_at_the_first_key_follows_both_steps(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs, tmp_path: Path
) -> None:
    relief = parties["relief"]
    key_a = setup.verifier_key(server.settings)
    receipt_a = _receipt(server, relief, tmp_path, "a")
    state = tmp_path / "state.json"
    ran = parley_as(relief, "verify", "log", server.url, "--log-key", key_a, "--state", str(state))
    assert ran.code == 0, ran.err
    key_b = str(_rotate(parley_as, relief, server)["new_key"])
    receipt_b = _receipt(server, relief, tmp_path, "b")
    rotated = _rotate(parley_as, relief, server)
    assert rotated["old_key"] == key_b
    key_c = str(rotated["new_key"])
    receipt_c = _receipt(server, relief, tmp_path, "c")

    # Each receipt carries the chain up to its checkpoint's key: good for every key before.
    for path, signer, pins in (
        (receipt_a, key_a, [key_a]),
        (receipt_b, key_b, [key_a, key_b]),
        (receipt_c, key_c, [key_a, key_b, key_c]),
    ):
        for pinned in pins:
            assert _verify_receipt(parley_as, relief, path, pinned)["log_key"] == signer
    assert _verify_receipt(parley_as, relief, receipt_c, key_a)["key_rotations_followed"] == 2

    ran = parley_as(
        relief, "verify", "log", server.url, "--log-key", key_a, "--state", str(state), "--json"
    )
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["log_key"] == key_c
    assert json.loads(ran.out)["key_rotations_followed"] == 2


def test_a_forged_rotation_in_a_receipt_is_refused_with_a_clear_message(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs, tmp_path: Path
) -> None:
    relief = parties["relief"]
    key_a = setup.verifier_key(server.settings)
    _rotate(parley_as, relief, server)
    receipt = json.loads(_receipt(server, relief, tmp_path, "after").read_text())
    (genuine,) = receipt["key_rotations"]
    # The same step with the old key's signature cut off: only the new key vouches for it.
    text, lines = note.parse_note(genuine)
    receipt["key_rotations"] = [text + "\n" + lines[1].line()]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(receipt))
    ran = parley_as(relief, "verify", "receipt", str(forged), "--log-key", key_a)
    assert ran.code != 0
    assert "key rotation 1 is not signed by its old key" in ran.err.replace("\n", " ")
    # Without the chain the new checkpoint names no key the party trusts.
    del receipt["key_rotations"]
    forged.write_text(json.dumps(receipt))
    ran = parley_as(relief, "verify", "receipt", str(forged), "--log-key", key_a)
    assert ran.code != 0 and "no signature by a known key" in ran.err.replace("\n", " ")


# -- the chain itself, without a hub ---------------------------------------------------------


def _tree(size: int) -> Checkpoint:
    tree = merkle.MerkleTree()
    for i in range(size):
        tree.append(merkle.leaf_hash(b"entry %d" % i))
    return Checkpoint(ORIGIN, size, tree.root())


def test_forged_chains_are_refused() -> None:
    a, b, c, x = (note.Signer.generate(ORIGIN) for _ in range(4))
    ab = keychain.rotation_note(_tree(3), a, b)
    bc = keychain.rotation_note(_tree(5), b, c)
    ring = keychain.follow(a.verifier(), [ab, bc])
    assert ring.current == c.verifier()

    text, (_, sig_b) = note.parse_note(ab)
    new_only = text + "\n" + sig_b.line()
    with pytest.raises(keychain.KeyRotationError, match="not signed by its old key"):
        keychain.follow(a.verifier(), [new_only])
    # A step that skips one: A→B then X→C.
    xc = keychain.rotation_note(_tree(5), x, c)
    with pytest.raises(keychain.KeyRotationError, match="skips a step"):
        keychain.follow(a.verifier(), [ab, xc])
    # A chain that never passes through the pinned key: someone else's rotation.
    with pytest.raises(keychain.KeyRotationError, match="does not include the pinned key"):
        keychain.follow(a.verifier(), [xc])
    # An unrelated key's signature in place of the old key's (same name, other key).
    body = text
    forged = note.sign_note(body, x, b)
    with pytest.raises(keychain.KeyRotationError, match="not signed by its old key"):
        keychain.follow(a.verifier(), [forged])

    # The rotated-away key signs nothing past the rotation; up to it, it still counts.
    ring = keychain.follow(a.verifier(), [ab])
    assert ring.verify(sign_checkpoint(_tree(3), a)).size == 3
    with pytest.raises(keychain.KeyRotationError, match="rotated away at size 3"):
        ring.verify(sign_checkpoint(_tree(4), a))
    assert ring.verify(sign_checkpoint(_tree(4), b)).size == 4


def test_a_witness_learns_the_new_key_only_from_a_checkpoint_both_keys_signed(
    tmp_path: Path,
) -> None:
    a, b, x = (note.Signer.generate(ORIGIN) for _ in range(3))
    data = tmp_path / "witness"
    signer = datadir.init(data, "witness.test/w")
    datadir.add_log(data, ORIGIN, a.verifier().key_string())
    witness = Witness(signer, datadir.open_store(data))
    witness.add_checkpoint(request_body(0, [], sign_checkpoint(_tree(2), a)))

    def proof(old: int, new: int) -> list[bytes]:
        tree = merkle.MerkleTree()
        for i in range(new):
            tree.append(merkle.leaf_hash(b"entry %d" % i))
        return tree.consistency_proof(old, new)

    # The new key alone is not trusted.
    with pytest.raises(NoTrustedSignature):
        witness.add_checkpoint(request_body(2, proof(2, 3), sign_checkpoint(_tree(3), b)))
    # A rotation signed by the new key and an unrelated one is refused...
    text = keychain.rotation_note(_tree(3), a, b).split("\n\n")[0] + "\n"
    with pytest.raises(NoTrustedSignature):
        witness.add_checkpoint(request_body(2, proof(2, 3), note.sign_note(text, x, b)))
    # ...and so is one the trusted key signed but the new key did not.
    with pytest.raises(NoTrustedSignature, match="not signed by its new key"):
        witness.add_checkpoint(request_body(2, proof(2, 3), note.sign_note(text, a)))
    assert b.verifier().key_string() not in witness.store.log_keys(ORIGIN)

    witness.add_checkpoint(request_body(2, proof(2, 3), keychain.rotation_note(_tree(3), a, b)))
    assert b.verifier().key_string() in witness.store.log_keys(ORIGIN)
    witness.add_checkpoint(request_body(3, proof(3, 4), sign_checkpoint(_tree(4), b)))


def test_witnesses_and_mirrors_follow_a_rotation_of_the_running_hub(
    tmp_path: Path, settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """The hub hands the rotation checkpoint to its witness, which then cosigns checkpoints
    of the new key; a mirror pinned at the old key follows the hub across the rotation."""
    data = tmp_path / "witness"
    witness_signer = datadir.init(data, "witness.test/w")
    key_a = setup.verifier_key(settings)
    datadir.add_log(data, settings.origin, key_a)
    witness = _serve(app_for(data))
    cosigner = witness_signer.verifier()
    settings = replace(settings, witnesses=(f"{witness.url} {cosigner.key_string()}",))
    hub = Hub(settings)
    served = _serve(create_app(settings, hub))
    policy = tmp_path / "policy.txt"
    policy.write_text(policy_text(key_a, [], 0, "the test hub"))
    mirror_dir = tmp_path / "mirror"

    def mirror_once() -> int:
        return run(mirror_dir, served.url, policy, once=True, as_json=True)

    try:
        relief = Server(served.url, hub, settings).client(parties["relief"])
        with relief as r:
            made = r.submit("site", site(37.1, 36.2))
            before = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
        note.open_note(before["checkpoint"], [cosigner])  # cosigned under the first key
        assert mirror_once() == 0

        rotated = setup.rotate_log_key(settings)
        deadline = time.monotonic() + 15
        while hub.log.verifier_key != rotated["new_key"]:
            assert time.monotonic() < deadline, "the hub did not switch to the new key"
            time.sleep(0.05)
        # The hub hands the rotation checkpoint to its witness right after switching.
        while rotated["new_key"] not in datadir.open_store(data).log_keys(settings.origin):
            assert time.monotonic() < deadline, "the witness did not learn the new key"
            time.sleep(0.05)

        with Server(served.url, hub, settings).client(parties["relief"]) as r:
            made = r.submit("site", site(37.2, 36.3))
            after = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)
        signed = after["checkpoint"]
        note.open_note(signed, [note.Verifier.from_key(str(rotated["new_key"]))])
        note.open_note(signed, [cosigner])  # the witness cosigned the new key's checkpoint
        assert mirror_once() == 0
        assert MirrorStore(mirror_db(mirror_dir)).head().checkpoint.size == 2  # type: ignore[union-attr]
    finally:
        served.stop()
        hub.close()
        witness.stop()


def test_rotate_key_on_a_directory_that_is_no_hub_names_it(
    tmp_path: Path, server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs
) -> None:
    missing = tmp_path / "no-such-hub"
    ran = parley_as(parties["relief"], "log", "rotate-key", "--data", str(missing))
    assert ran.code != 0
    assert str(missing) in ran.err and "not a parley data directory" in ran.err


def test_a_receipt_carries_the_history_up_to_the_key_that_signed_its_checkpoint(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs
) -> None:
    """Receipts take the rotations from the process's own key ring, without a query, only when
    its key in force signed the checkpoint; a checkpoint another process signed after a
    rotation this one has not adopted yet gets the database's history."""
    relief = parties["relief"]
    first_key = setup.verifier_key(server.settings)
    rotated = _rotate(parley_as, relief, server)
    with server.client(relief) as r:
        made = r.submit("site", site(37.1, 36.2))
        signed = r.get(f"/api/v1/submissions/{made['id']}/receipt", wait=10)["checkpoint"]
    log = server.hub.log
    assert log.verifier_key == rotated["new_key"]
    assert log._history_for(signed) == log.ring.notes == log.key_rotations()
    assert len(log.ring.notes) == 1
    current = log.ring
    try:
        log.ring = keychain.KeyRing.single(note.Verifier.from_key(first_key))  # not adopted yet
        assert log._history_for(signed) == log.key_rotations()
        assert len(log._history_for(signed)) == 1
    finally:
        log.ring = current
    damaged = signed.replace(signed.splitlines()[-1], "\u2014 damaged not*base64")
    assert log._history_for(damaged) == log.key_rotations()
