from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from parley.errors import CheckpointError
from parley.log import checkpoint as cp
from parley.log.merkle import leaf_hash
from parley.log.note import CosignatureSigner, Signer, Verifier, sign_note
from tests.log.conftest import load

VECTORS = load("signed-note-vectors.json")
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def by_id(vector_id: str) -> dict[str, Any]:
    return next(v for v in VECTORS["vectors"] if v["id"] == vector_id)


def test_body_matches_the_x_mod_golden() -> None:
    golden = VECTORS["checkpoint_body_goldens"][1]
    checkpoint = cp.Checkpoint(golden["origin"], golden["size"], leaf_hash(b"hello world"))
    assert checkpoint.body() == golden["body"]
    assert cp.parse(golden["body"]) == checkpoint


def test_a_root_that_is_not_32_bytes_is_refused() -> None:
    # transparency-dev's golden marshals a 7-byte "root"; a real checkpoint cannot carry one.
    golden = VECTORS["checkpoint_body_goldens"][0]
    with pytest.raises(CheckpointError, match="7 bytes, not 32"):
        cp.parse(golden["body"])
    with pytest.raises(CheckpointError, match="7 bytes, not 32"):
        cp.Checkpoint(golden["origin"], golden["size"], golden["hash_ascii"].encode())


@pytest.mark.parametrize("vector_id", ["sum.golang.org-real-checkpoint", "xmod-sumdb-test-tree6"])
def test_real_signed_checkpoints_verify(vector_id: str) -> None:
    vector = by_id(vector_id)
    verifier = Verifier.from_key(vector["vkey"])
    checkpoint = cp.verify_checkpoint(
        vector["signed_note"], verifier, vector["checkpoint"]["origin"]
    )
    assert checkpoint.size == vector["checkpoint"]["size"]
    assert checkpoint.body() == vector["text"]


def test_tampered_origin_fails_the_signature() -> None:
    vector = by_id("xmod-sumdb-test-tree5-tampered")
    with pytest.raises(CheckpointError, match="does not verify"):
        cp.verify_checkpoint(
            vector["signed_note"], Verifier.from_key(vector["vkey"]), "go.sum database tree!"
        )


def test_a_valid_signature_for_another_origin_is_refused() -> None:
    vector = by_id("xmod-sumdb-test-tree6")
    with pytest.raises(
        CheckpointError, match=re.escape("origin 'go.sum database tree', expected 'parley'")
    ):
        cp.verify_checkpoint(vector["signed_note"], Verifier.from_key(vector["vkey"]), "parley")


def test_sign_then_verify_round_trips_with_extensions() -> None:
    signer = Signer.generate("parley.example/log")
    checkpoint = cp.Checkpoint("parley.example/log", 42, ROOT, ("ext one", "ext two"))
    signed = cp.sign_checkpoint(checkpoint, signer)
    assert signed.startswith(f"parley.example/log\n42\n{ROOT_B64}\next one\next two\n\n— ")
    assert cp.verify_checkpoint(signed, signer.verifier(), "parley.example/log") == checkpoint


def test_a_signature_by_another_key_is_refused() -> None:
    checkpoint = cp.Checkpoint("parley.example/log", 1, ROOT)
    signed = cp.sign_checkpoint(checkpoint, Signer.generate("parley.example/log"))
    with pytest.raises(CheckpointError, match="no signature by a known key"):
        cp.verify_checkpoint(signed, Signer.generate("parley.example/log").verifier(), "x")


def test_empty_tree_checkpoint() -> None:
    empty = cp.parse(f"log\n0\n{base64.b64encode(bytes(32)).decode()}\n")
    assert empty.size == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param(f"log\n1\n{ROOT_B64}", "does not end with a newline", id="no-final-newline"),
        pytest.param("log\n1\n", "has 2 line(s)", id="no-root"),
        pytest.param("log\n", "has 1 line(s)", id="origin-only"),
        pytest.param("", "does not end with a newline", id="empty"),
        pytest.param(f"\n1\n{ROOT_B64}\n", "origin is empty", id="empty-origin"),
        pytest.param(f"log\n01\n{ROOT_B64}\n", "leading zeroes", id="leading-zero"),
        pytest.param(f"log\n00\n{ROOT_B64}\n", "leading zeroes", id="double-zero"),
        pytest.param(f"log\n-1\n{ROOT_B64}\n", "not a decimal", id="negative"),
        pytest.param(f"log\n+1\n{ROOT_B64}\n", "not a decimal", id="plus-sign"),
        pytest.param(f"log\n 1\n{ROOT_B64}\n", "not a decimal", id="space-in-size"),
        pytest.param(f"log\n1_000\n{ROOT_B64}\n", "not a decimal", id="underscore"),
        pytest.param(f"log\n١\n{ROOT_B64}\n", "not a decimal", id="arabic-indic-digit"),
        pytest.param(f"log\n0x10\n{ROOT_B64}\n", "not a decimal", id="hex-size"),
        pytest.param(f"log\n\n{ROOT_B64}\n", "not a decimal", id="empty-size"),
        pytest.param(f"log\n{2**63}\n{ROOT_B64}\n", "out of range", id="size-over-int64"),
        pytest.param("log\n1\nAAAA\n", "3 bytes, not 32", id="short-root"),
        pytest.param(f"log\n1\n{ROOT_B64[:-1]}\n", "not valid base64", id="unpadded-root"),
        pytest.param(f"log\n1\n{ROOT_B64[:-2]}9=\n", "not canonical", id="noncanonical-root"),
        pytest.param(
            "log\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",
            "not valid base64",
            id="urlsafe-root",
        ),
        pytest.param("log\n1\n\n", "0 bytes, not 32", id="empty-root"),
        pytest.param(f"log\n1\n{ROOT_B64}\n\n", "extension line is empty", id="empty-extension"),
        pytest.param(f"log\r\n1\n{ROOT_B64}\n", "U+000D", id="carriage-return"),
        pytest.param(f"log\n1\n{ROOT_B64}\nx\ty\n", "U+0009", id="tab-in-extension"),
    ],
)
def test_malformed_bodies_are_refused(body: str, why: str) -> None:
    with pytest.raises(CheckpointError, match=re.escape(why)):
        cp.parse(body)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("", 1, ROOT), "origin is empty"),
        (("a\nb", 1, ROOT), "U+000A"),
        (("log", -1, ROOT), "out of range"),
        (("log", True, ROOT), "integer"),
        (("log", 1, ROOT[:31]), "31 bytes"),
        (("log", 1, ROOT, ("",)), "extension line is empty"),
        (("log", 1, ROOT, ("a\nb",)), "U+000A"),
    ],
)
def test_impossible_checkpoints_cannot_be_built(args: tuple[Any, ...], why: str) -> None:
    with pytest.raises(CheckpointError, match=re.escape(why)):
        cp.Checkpoint(*args)


def test_a_mirror_cosigns_and_a_client_counts_the_quorum() -> None:
    log = Signer.generate("parley.example/log")
    signed = cp.sign_checkpoint(cp.Checkpoint("parley.example/log", 7, ROOT), log)
    mirror_a = CosignatureSigner.generate("mirror.a.example")
    mirror_b = CosignatureSigner.generate("mirror.b.example")
    once = cp.cosign_checkpoint(signed, log.verifier(), "parley.example/log", mirror_a)
    twice = cp.cosign_checkpoint(once, log.verifier(), "parley.example/log", mirror_b)
    cosigners = [mirror_a.verifier(), mirror_b.verifier()]

    checkpoint, sigs = cp.verify_cosigned_checkpoint(
        twice, log.verifier(), "parley.example/log", cosigners, quorum=2
    )
    assert checkpoint.size == 7
    assert [s.name for s in sigs] == ["mirror.a.example", "mirror.b.example"]
    assert all(isinstance(s.timestamp, int) for s in sigs)

    with pytest.raises(CheckpointError, match="1 valid cosignature"):
        cp.verify_cosigned_checkpoint(once, log.verifier(), "parley.example/log", cosigners, 2)
    with pytest.raises(CheckpointError, match="cosignatures do not verify"):
        cp.verify_cosigned_checkpoint(signed, log.verifier(), "parley.example/log", cosigners)


def test_a_mirror_will_not_cosign_what_the_log_did_not_sign() -> None:
    log = Signer.generate("parley.example/log")
    forged = sign_note(cp.Checkpoint("parley.example/log", 7, ROOT).body(), Signer.generate("x"))
    with pytest.raises(CheckpointError):
        cp.cosign_checkpoint(
            forged, log.verifier(), "parley.example/log", CosignatureSigner.generate("m")
        )
