from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley.errors import CheckpointError
from parley.log.note import (
    CosignatureSigner,
    CosignatureVerifier,
    NoteError,
    Signer,
    Verifier,
    add_signatures,
    open_note,
    open_note_detailed,
    parse_note,
    parse_verifier_key,
    sign_note,
)
from tests.log.conftest import load

VECTORS = load("signed-note-vectors.json")
NOTES = VECTORS["vectors"]
PETER = next(v for v in NOTES if v["id"] == "xmod-note-TestSign")
TEXT = PETER["text"]


def peter() -> Signer:
    return Signer.from_key(PETER["skey"])


def _ids(v: dict[str, Any]) -> str:
    return str(v["id"])


@pytest.mark.parametrize("vector", [v for v in NOTES if "skey" in v], ids=_ids)
def test_signatures_match_byte_for_byte(vector: dict[str, Any]) -> None:
    signer = Signer.from_key(vector["skey"])
    assert signer.signer_key_string() == vector["skey"]
    assert signer.verifier().key_string() == vector["vkey"]
    assert sign_note(vector["text"], signer) == vector["signed_note"]


@pytest.mark.parametrize("vector", NOTES, ids=_ids)
def test_vector_notes_open_or_are_refused(vector: dict[str, Any]) -> None:
    vkeys = vector.get("vkeys") or [vector["vkey"]]
    verifiers = [Verifier.from_key(k) for k in vkeys]
    if vector.get("expect_valid", True):
        text, names = open_note(vector["signed_note"], verifiers)
        assert text == vector.get("text", text)
        assert names == [k.split("+")[0] for k in vkeys]
    else:
        with pytest.raises(NoteError, match="does not verify"):
            open_note(vector["signed_note"], verifiers)


@pytest.mark.parametrize("vector", NOTES, ids=_ids)
def test_key_ids_are_the_sha256_prefix(vector: dict[str, Any]) -> None:
    for vkey in vector.get("vkeys") or [vector["vkey"]]:
        name, hex_id, b64 = vkey.split("+", 2)
        verifier = Verifier.from_key(vkey)
        want = hashlib.sha256(name.encode() + b"\n" + base64.b64decode(b64)).digest()[:4]
        assert verifier.key_id == want == bytes.fromhex(hex_id)
        assert verifier.key_string() == vkey


def test_each_verifier_of_a_two_signature_note_ignores_the_other_line() -> None:
    vector = next(v for v in NOTES if v["id"] == "xmod-note-TestOpen-two-sigs")
    for vkey in vector["vkeys"]:
        _, names = open_note(vector["signed_note"], [Verifier.from_key(vkey)])
        assert names == [vkey.split("+")[0]]


@pytest.mark.parametrize("pair", VECTORS["key_pairs_only"], ids=lambda p: p["vkey"][:12])
def test_key_pairs_agree(pair: dict[str, str]) -> None:
    signer = Signer.from_key(pair["skey"])
    assert signer.verifier().key_string() == pair["vkey"]
    note = sign_note("x\n", signer)
    assert open_note(note, [Verifier.from_key(pair["vkey"])]) == ("x\n", [signer.name])


@pytest.mark.parametrize("bad", VECTORS["bad_vkeys"], ids=lambda b: b["why"])
def test_bad_verifier_keys_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(NoteError):
        Verifier.from_key(bad["vkey"])


GOOD_VKEY = PETER["vkey"]


@pytest.mark.parametrize(
    ("vkey", "why"),
    [
        ("PeterNeumann+c74f20a3", "not name+keyid+key"),
        ("+c74f20a3+" + GOOD_VKEY.split("+", 2)[2], "empty"),
        ("Peter Neumann+c74f20a3+" + GOOD_VKEY.split("+", 2)[2], "space"),
        (GOOD_VKEY.replace("c74f20a3", "C74F20A3"), "8 lowercase hex"),
        (GOOD_VKEY.replace("c74f20a3", "c74f20a4"), "does not match"),
        (GOOD_VKEY.replace("c74f20a3", "c74f20"), "8 lowercase hex"),
        (GOOD_VKEY[:-1], "base64"),
        ("PeterNeumann+c74f20a3+", "signature type nothing"),
    ],
)
def test_malformed_verifier_keys(vkey: str, why: str) -> None:
    with pytest.raises(NoteError, match=re.escape(why)):
        Verifier.from_key(vkey)


def test_signer_key_needs_its_prefix_and_id() -> None:
    with pytest.raises(NoteError, match="PRIVATE"):
        Signer.from_key(PETER["skey"].removeprefix("PRIVATE+"))
    with pytest.raises(NoteError, match="does not match"):
        Signer.from_key(PETER["skey"].replace("c74f20a3", "c74f20a4"))


def test_a_signer_repr_does_not_leak_the_seed() -> None:
    seed_b64 = PETER["skey"].rsplit("+", 1)[1]
    assert seed_b64 not in repr(peter())
    assert "PRIVATE" not in repr(peter())


SIGNED = PETER["signed_note"]
SIG_LINE = SIGNED[len(TEXT) + 1 :]


@pytest.mark.parametrize(
    ("note", "why"),
    [
        pytest.param(SIGNED[:-1], "does not end with a newline", id="last-line-unterminated"),
        pytest.param(TEXT + SIG_LINE, "no blank line", id="no-blank-line"),
        pytest.param(TEXT + "\n", "no signature lines", id="no-signatures"),
        pytest.param(TEXT + "\n" + SIG_LINE.replace("— ", "- ", 1), "em dash", id="hyphen"),
        pytest.param(TEXT + "\n" + SIG_LINE.replace("— ", "—", 1), "em dash", id="no-space"),
        pytest.param(
            TEXT + "\n" + SIG_LINE.replace(" x08go", "x08go", 1), "no space", id="name-joined"
        ),
        pytest.param(TEXT + "\n" + SIG_LINE.replace("PeterNeumann", "", 1), "empty", id="no-name"),
        pytest.param(
            TEXT + "\n" + SIG_LINE.replace("PeterNeumann", "Peter+Neumann", 1),
            "plus",
            id="name-with-plus",
        ),
        pytest.param(
            TEXT + "\n" + SIG_LINE.replace("x08go", "x08g!", 1), "not valid base64", id="bad-b64"
        ),
        pytest.param(
            TEXT + "\n" + SIG_LINE.replace("nAM=", "nAN=", 1), "canonical", id="noncanonical-b64"
        ),
        pytest.param(TEXT + "\n— PeterNeumann AAAAAA==\n", "too short", id="short-signature"),
        pytest.param(TEXT.replace("\n", "\r\n") + "\n" + SIG_LINE, "U+000D", id="carriage-return"),
        pytest.param("tab\there\n\n" + SIG_LINE, "U+0009", id="tab"),
        pytest.param("nul\x00\n\n" + SIG_LINE, "U+0000", id="nul"),
        pytest.param(b"\xff\xfe\n\n" + SIG_LINE.encode(), "UTF-8", id="invalid-utf8"),
        pytest.param("\ud800\n\n" + SIG_LINE, "UTF-8", id="lone-surrogate"),
        pytest.param(TEXT + "\n" + SIG_LINE * 101, "at most 100", id="too-many-signatures"),
        pytest.param(TEXT + "\n" + SIG_LINE + "\n", "no signature lines", id="trailing-blank-line"),
    ],
)
def test_malformed_notes_are_refused(note: str | bytes, why: str) -> None:
    with pytest.raises(NoteError, match=re.escape(why)):
        open_note(note, [peter().verifier()])


def test_a_note_error_is_a_checkpoint_error() -> None:
    with pytest.raises(CheckpointError):
        open_note("no signatures\n", [peter().verifier()])


def test_text_may_contain_blank_lines() -> None:
    text = "one\n\ntwo\n\n"
    assert open_note(sign_note(text, peter()), [peter().verifier()]) == (text, ["PeterNeumann"])


def test_unknown_keys_only_is_refused() -> None:
    other = Signer.generate("someone.else")
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(sign_note(TEXT, other), [peter().verifier()])


def test_same_name_other_key_is_ignored_not_trusted() -> None:
    impostor = Signer.generate("PeterNeumann")
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(sign_note(TEXT, impostor), [peter().verifier()])


def test_same_key_id_other_name_is_ignored() -> None:
    line = SIG_LINE.replace("PeterNeumann", "PaulNeumann")
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(TEXT + "\n" + line, [peter().verifier()])


def test_changed_text_fails_the_known_signature() -> None:
    with pytest.raises(NoteError, match=r"signature by PeterNeumann .* does not verify"):
        open_note(SIGNED.replace("cryptography", "cryptograph¥"), [peter().verifier()])


def test_a_bad_known_signature_sinks_the_note_even_beside_a_good_one() -> None:
    enoch = next(v for v in NOTES if v["id"] == "xmod-note-TestOpen-enoch")
    # Past the key ID (the first 6 base64 characters), so the line still names Enoch's key.
    bad_enoch = enoch["signed_note"][len(TEXT) + 1 :].replace("Za0SO3", "Za0SO4", 1)
    assert bad_enoch != enoch["signed_note"][len(TEXT) + 1 :]
    note = SIGNED + bad_enoch
    verifiers = [peter().verifier(), Verifier.from_key(enoch["vkey"])]
    with pytest.raises(NoteError, match="EnochRoot"):
        open_note(note, verifiers)


def test_repeated_signature_lines_name_the_signer_once() -> None:
    assert open_note(SIGNED + SIG_LINE, [peter().verifier()])[1] == ["PeterNeumann"]


def test_ambiguous_verifiers_are_refused() -> None:
    with pytest.raises(NoteError, match="share the name"):
        open_note(SIGNED, [peter().verifier(), peter().verifier()])


def test_sign_note_refuses_bad_text() -> None:
    with pytest.raises(NoteError, match="end with a newline"):
        sign_note("no newline", peter())
    with pytest.raises(NoteError, match=re.escape("U+000D")):
        sign_note("cr\r\n", peter())


def test_several_signers_and_added_signatures() -> None:
    other = Signer.generate("example.org/other")
    both = sign_note(TEXT, peter(), other)
    assert open_note(both, [peter().verifier(), other.verifier()])[1] == [
        "PeterNeumann",
        "example.org/other",
    ]
    assert add_signatures(SIGNED, other) == both
    text, lines = parse_note(both)
    assert text == TEXT
    assert [line.name for line in lines] == ["PeterNeumann", "example.org/other"]


# tlog-cosignature (cosignature/v1, type 0x04)

CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SEED = bytes(range(32))


def cosigner(ts: int = 1679315147) -> CosignatureSigner:
    return CosignatureSigner(
        "witness.example/w1", Ed25519PrivateKey.from_private_bytes(SEED), clock=lambda: ts
    )


def test_cosignature_signs_the_spec_message_with_its_timestamp() -> None:
    signed = sign_note(CHECKPOINT, cosigner())
    _, lines = parse_note(signed)
    (line,) = lines
    key = Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    raw_key = cosigner().verifier().key_string().split("+", 2)[2]
    assert base64.b64decode(raw_key)[0] == 0x04
    want_id = hashlib.sha256(b"witness.example/w1\n\x04" + base64.b64decode(raw_key)[1:]).digest()
    assert line.key_id == want_id[:4]
    assert line.signature[:8] == (1679315147).to_bytes(8, "big")
    # The message, built by hand from tlog-cosignature "Ed25519 signed message".
    message = b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT.encode()
    key.verify(line.signature[8:], message)


def test_cosignatures_open_with_their_timestamp() -> None:
    signed = sign_note(CHECKPOINT, cosigner())
    text, verified = open_note_detailed(signed, [cosigner().verifier()])
    assert text == CHECKPOINT
    assert [(v.name, v.timestamp) for v in verified] == [("witness.example/w1", 1679315147)]


def test_cosignature_verifier_key_round_trips_and_dispatches() -> None:
    vkey = cosigner().verifier().key_string()
    assert isinstance(parse_verifier_key(vkey), CosignatureVerifier)
    assert parse_verifier_key(vkey) == cosigner().verifier()
    assert isinstance(parse_verifier_key(PETER["vkey"]), Verifier)
    with pytest.raises(NoteError, match="signature type 0x04, expected 0x01"):
        Verifier.from_key(vkey)
    skey = cosigner().signer_key_string()
    assert CosignatureSigner.from_key(skey).verifier() == cosigner().verifier()


def test_a_tampered_cosignature_timestamp_fails() -> None:
    signed = sign_note(CHECKPOINT, cosigner())
    _, (line,) = parse_note(signed)
    forged = line.__class__(line.name, line.key_id, (1).to_bytes(8, "big") + line.signature[8:])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(CHECKPOINT + "\n" + forged.line(), [cosigner().verifier()])


def test_a_cosignature_is_not_a_plain_signature_by_the_same_key() -> None:
    # Same name and key, type 0x01: a different key ID, so the cosignature is not its own.
    plain = Verifier("witness.example/w1", Ed25519PrivateKey.from_private_bytes(SEED).public_key())
    assert plain.key_id != cosigner().key_id
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(sign_note(CHECKPOINT, cosigner()), [plain])


def test_cosigner_refuses_an_out_of_range_clock() -> None:
    with pytest.raises(ValueError):
        sign_note(CHECKPOINT, cosigner(ts=2**63))
