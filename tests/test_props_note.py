"""Properties of the C2SP signed-note reader, which reads checkpoints, cosignatures and keys
that arrive from other hubs, witnesses and command lines.

Arbitrary text or bytes are refused with a NoteError (a parley error) or read; keys likewise; what
parley signs or cosigns opens again with the right names and timestamps; and any change of a
single character of a signed note is refused.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from parley.errors import ParleyError
from parley.log import note

SIGNER = note.Signer("log.example/a", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
STAMP = 1_790_000_000
WITNESS = note.CosignatureSigner(
    "witness.example/w", Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))), lambda: STAMP
)
VERIFIERS: list[note.NoteVerifier] = [SIGNER.verifier(), WITNESS.verifier()]
VKEY = SIGNER.verifier().key_string()

# Note text as the format allows it: UTF-8 without control characters other than newline.
_LINE = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\x00"), max_size=30
)
TEXTS = st.lists(_LINE, min_size=1, max_size=5).map(lambda lines: "\n".join(lines) + "\n")
_SIGNATURE_LINE = st.builds(
    lambda name, raw: f"— {name} {raw}\n",
    st.text(min_size=0, max_size=8),
    st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()),
)


def _refused(call: Any, *args: Any) -> bool:
    """True when ``call`` raised a NoteError; any other exception propagates and fails."""
    try:
        call(*args)
    except note.NoteError as exc:
        assert isinstance(exc, ParleyError) and 400 <= exc.status < 500
        return True
    return False


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
@example("x\n\n— \udc80 AAAAAAA=\n")
def test_arbitrary_notes_are_refused_with_a_note_error_or_read(text: str | bytes) -> None:
    _refused(note.parse_note, text)
    _refused(note.open_note, text, VERIFIERS)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.lists(_SIGNATURE_LINE, max_size=3))
def test_note_shaped_input_is_refused_with_a_note_error_or_read(
    text: str, lines: list[str]
) -> None:
    signed = text + "\n" + "".join(lines)
    if not _refused(note.parse_note, signed):
        assert _refused(note.open_note, signed, VERIFIERS)  # no line is by a known key


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.builds(lambda a, b: f"{a}+{b}", st.text(max_size=10), st.text()))
@example("é")
@example("a+b+é")
@example("\udc80" + VKEY[1:])
def test_arbitrary_keys_are_refused_with_a_note_error_or_read(key: str) -> None:
    """Keys are typed by operators (``parley witness add-log``) and stored by witnesses."""
    for reader in (
        note.parse_verifier_key,
        note.Verifier.from_key,
        note.CosignatureVerifier.from_key,
        note.Signer.from_key,
        note.CosignatureSigner.from_key,
    ):
        _refused(reader, key)


@settings(max_examples=80, deadline=None)
@given(TEXTS)
def test_signed_and_cosigned_notes_open_with_their_signers(text: str) -> None:
    signed = note.sign_note(text, SIGNER)
    assert note.open_note(signed, [SIGNER.verifier()]) == (text, [SIGNER.name])
    cosigned = note.add_signatures(signed, WITNESS)
    got, verified = note.open_note_detailed(cosigned, VERIFIERS)
    assert got == text
    assert [(v.name, v.timestamp) for v in verified] == [(SIGNER.name, None), (WITNESS.name, STAMP)]
    # Keys survive their own string form.
    assert note.parse_verifier_key(VKEY) == SIGNER.verifier()
    assert note.parse_verifier_key(WITNESS.verifier().key_string()) == WITNESS.verifier()


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.data())
def test_any_single_character_change_is_refused(text: str, data: Any) -> None:
    signed = note.sign_note(text, SIGNER)
    index = data.draw(st.integers(0, len(signed) - 1), label="index")
    replacement = data.draw(
        st.sampled_from("A/+=\n —a0é").filter(lambda c: c != signed[index]), label="replacement"
    )
    changed = signed[:index] + replacement + signed[index + 1 :]
    assert _refused(note.open_note, changed, [SIGNER.verifier()]), repr(changed)


@settings(max_examples=60, deadline=None)
@given(TEXTS, TEXTS.filter(lambda t: len(t) > 1))
def test_a_signature_never_opens_another_text(text: str, other: str) -> None:
    signed = note.sign_note(text, SIGNER)
    _, block = signed[:-1].rsplit("\n\n", 1)
    forged = other + "\n" + block + "\n"
    if other != text:
        assert _refused(note.open_note, forged, [SIGNER.verifier()])
