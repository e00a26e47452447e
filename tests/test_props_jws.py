"""Properties of the compact JWS reader, the first thing every submission meets.

Whatever a client sends, the reader answers with one of parley's own errors (a 4xx problem) or a
parse; what parley signs parses back to the same document and verifies; and no single character
of a signed JWS can change without the change being refused, so one document has one signed form.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import ParleyError
from parley.parties import jws
from parley.parties.keys import b64url

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Documents JCS can write: I-JSON integers and strings without NUL or lone surrogates.
_SAFE_INT = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_SCALARS = st.none() | st.booleans() | _SAFE_INT | _TEXT
_VALUES = _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(_TEXT, _SCALARS, max_size=3)
DOCUMENTS = st.dictionaries(_TEXT, _VALUES, max_size=4)


def _outcome(compact: str, *, stored: bool = False) -> jws.Parsed | None:
    """The parse, or None when refused with a parley error; anything else propagates."""
    try:
        return jws.Parsed(compact, stored=stored)
    except ParleyError as exc:
        assert 400 <= exc.status < 500, exc
        return None


def _segment(data: bytes) -> str:
    return b64url(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.booleans())
def test_arbitrary_text_is_refused_with_a_parley_error_or_parsed(text: str, stored: bool) -> None:
    _outcome(text, stored=stored)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=B64URL_ALPHABET + "=.+/ ", max_size=40), min_size=1, max_size=4))
def test_base64url_looking_junk_is_refused_or_parsed(parts: list[str]) -> None:
    _outcome(".".join(parts))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.binary(max_size=120), st.binary(max_size=70), st.booleans())
def test_arbitrary_decoded_parts_never_escape_as_another_exception(
    header: bytes, payload: bytes, signature: bytes, stored: bool
) -> None:
    """Well-formed base64url around arbitrary bytes reaches the JSON and JCS checks."""
    compact = f"{_segment(header)}.{_segment(payload)}.{_segment(signature)}"
    parsed = _outcome(compact, stored=stored)
    if parsed is not None:
        try:
            parsed.verify(KEY.public_key(), "p")
        except ParleyError as exc:
            assert exc.status == 422


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, max_size=4), DOCUMENTS, st.booleans())
def test_arbitrary_json_headers_are_refused_or_parsed(
    header: dict[str, Any], document: dict[str, Any], stored: bool
) -> None:
    compact = f"{_segment(jws.canonical(header))}.{_segment(jws.canonical(document))}.AAAA"
    parsed = _outcome(compact, stored=stored)
    if parsed is not None:
        assert parsed.header.get("alg") == "EdDSA" or (stored and parsed.unsecured)
        assert "crit" not in parsed.header


@settings(max_examples=60, deadline=None)
@given(DOCUMENTS)
def test_what_parley_signs_parses_back_and_verifies(document: dict[str, Any]) -> None:
    compact = jws.sign(document, KEY, "alpha")
    parsed = jws.Parsed(compact)
    assert parsed.payload == document
    assert parsed.header == {"alg": "EdDSA", "kid": "alpha", "typ": "parley+jws"}
    parsed.verify(KEY.public_key(), "alpha")
    assert _refused_by_verify(parsed, OTHER)


def _refused_by_verify(parsed: jws.Parsed, key: Ed25519PrivateKey) -> bool:
    try:
        parsed.verify(key.public_key(), "alpha")
    except ParleyError as exc:
        return exc.status == 422
    return False


@settings(max_examples=100, deadline=None)
@given(DOCUMENTS, st.data())
def test_any_single_character_change_is_refused(document: dict[str, Any], data: Any) -> None:
    """Including the spare low bits of each segment's last character, which a lenient base64
    decoder ignores: a changed JWS must never verify, or one record has two signed forms."""
    compact = jws.sign(document, KEY, "alpha")
    index = data.draw(st.integers(0, len(compact) - 1), label="index")
    # Half the draws aim at the last character of a segment, where the spare bits live.
    ends = [i - 1 for i, ch in enumerate(compact) if ch == "."] + [len(compact) - 1]
    if data.draw(st.booleans(), label="aim at a segment end"):
        index = data.draw(st.sampled_from(ends), label="segment end")
    replacement = data.draw(
        st.sampled_from(B64URL_ALPHABET + ".=").filter(lambda c: c != compact[index]),
        label="replacement",
    )
    changed = compact[:index] + replacement + compact[index + 1 :]
    parsed = _outcome(changed)
    if parsed is not None:
        assert _refused_by_verify(parsed, KEY), f"{changed!r} still verifies"


@settings(max_examples=40, deadline=None)
@given(DOCUMENTS)
def test_an_unsecured_record_parses_only_from_the_store_and_never_verifies(
    document: dict[str, Any],
) -> None:
    compact = jws.unsecured(document, "alpha")
    assert _outcome(compact) is None
    parsed = jws.Parsed(compact, stored=True)
    assert parsed.payload == document and parsed.unsecured
    assert _refused_by_verify(parsed, KEY)


def test_spare_bits_in_the_last_character_of_a_signature_are_refused() -> None:
    """Found by the property above: 86 characters carry 516 bits for a 512-bit signature, and
    the decoder ignored the last 4, so 'g' and 'h' at the end gave the same signature."""
    compact = jws.sign({}, KEY, "alpha")
    head, _, signature = compact.rpartition(".")
    spare = B64URL_ALPHABET[B64URL_ALPHABET.index(signature[-1]) ^ 1]
    assert _outcome(f"{head}.{signature[:-1]}{spare}") is None
