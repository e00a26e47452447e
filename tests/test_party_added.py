"""`parley party add` is a hub entry like the rest of a party's life (issue 16): every party sees
the new party arrive, with its role and its key's RFC 7638 thumbprint, never its token; and the
log still verifies from outside. Both backends, on a running hub."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.hub import parties as lifecycle
from parley.hub.setup import verifier_key
from parley.parties import keys

from .conftest import ParleyAs, PartyHandle, Server
from .test_party_lifecycle import hub_entries, operator


def test_thumbprint_is_rfc_7638_as_rfc_8037_computes_it() -> None:
    # RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert lifecycle.thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_every_party_sees_a_new_party_arrive_without_its_token(
    server: Server, parties: dict[str, PartyHandle], parley_as: ParleyAs, tmp_path: Path
) -> None:
    bravo, monitor = parties["bravo"], parties["monitor"]
    delta_key = Ed25519PrivateKey.generate()
    public = tmp_path / "delta.pub.json"
    keys.write_public_key(public, delta_key.public_key())
    add = ["add", "delta", "--name", "Delta", "--role", "notifier", "--public-key", str(public)]
    ran = operator(parley_as, server, bravo, *add, "--expires-in", "30", "--json")
    assert ran.code == 0, ran.err
    added = json.loads(ran.out)
    expected = lifecycle.thumbprint(keys.public_jwk(delta_key.public_key()))
    assert added["key_thumbprint"] == expected

    delta = PartyHandle("delta", "notifier", added["token"], delta_key)
    for reader in (bravo, monitor, delta):
        with server.client(reader) as c:
            (entry,) = hub_entries(c, "party-added")
        assert entry["party"] == "hub" and entry["audience"] == "all"
        assert entry["sequence"] == added["log_index"]
        body = entry["document"]["body"]
        assert body["party"] == "delta" and body["role"] == "notifier"
        assert body["name"] == "Delta"
        assert body["public_key"] == keys.public_jwk(delta_key.public_key())
        assert body["key_thumbprint"] == expected
        assert body["token_expires_at"] is not None
        assert added["token"] not in json.dumps(entry)
        assert set(body) == {
            *("party", "name", "role", "public_key", "key_thumbprint"),
            *("added_at", "token_expires_at"),
        }
    # The human output says where the arrival was logged and the thumbprint to compare.
    echo = tmp_path / "echo.pub.json"
    keys.write_public_key(echo, Ed25519PrivateKey.generate().public_key())
    ran = operator(parley_as, server, bravo, "add", "echo", "--name", "Echo", "--role", "observer",
                   "--public-key", str(echo))  # fmt: skip
    assert ran.code == 0, ran.err
    assert "announced to every party in log entry" in ran.out
    assert lifecycle.thumbprint(keys.public_jwk(keys.load_public_key(echo))) in ran.out

    # The hub's own entries keep the log verifiable from outside, once a checkpoint covers them.
    with server.client(bravo) as b:
        last = hub_entries(b, "party-added")[-1]
        b.get(f"/api/v1/submissions/{last['id']}/receipt", wait=10)
    verified = parley_as(
        bravo, "verify", "log", server.url, "--log-key", verifier_key(server.settings), "--json"
    )
    assert verified.code == 0, verified.err
    assert json.loads(verified.out)["size"] >= added["log_index"] + 2
