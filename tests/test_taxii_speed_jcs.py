"""formats/jcs.py writes exactly rfc8785's bytes, and fails exactly where it fails.

The fast path (orjson with sorted keys) is taken only for documents where the two agree; these
tests hold it to the reference on every code point, on the key orders where UTF-8 and UTF-16
disagree, on numbers at and beyond the edges, and on generated documents.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.formats import jcs
from parley.parties import jws


def _same(document: Any) -> None:
    try:
        expected: bytes | type[BaseException] = rfc8785.dumps(document)
    except Exception as exc:  # the reference's error is the answer to match
        expected = type(exc)
    if isinstance(expected, bytes):
        assert jcs.canonical(document) == expected
    else:
        with pytest.raises(expected):
            jcs.canonical(document)


def test_every_code_point_is_escaped_as_the_reference_does() -> None:
    for start in range(0, 0x110000, 0x1000):
        chunk = "".join(
            chr(cp) for cp in range(start, start + 0x1000) if not 0xD800 <= cp <= 0xDFFF
        )
        assert jcs.canonical({"k": chunk, chunk[:50]: 1}) == rfc8785.dumps(
            {"k": chunk, chunk[:50]: 1}
        )


def test_keys_sort_by_utf16_code_units() -> None:
    # U+FF21 sorts after U+1F600 in UTF-8 and code points, before it in UTF-16 (a surrogate
    # pair starts at 0xD83D): the fast path would get this wrong, so it must not take it.
    document = {"\uff21": 1, "\U0001f600": 2, "a": 3, "\u00e9": 4, "\ue000": 5}
    assert jcs.canonical(document) == rfc8785.dumps(document)
    assert jcs.canonical(document).index("\U0001f600".encode()) < jcs.canonical(document).index(
        "\uff21".encode()
    )


class Shade(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "document",
    [
        {"n": 2**53 - 1, "m": -(2**53) + 1},
        {"n": 2**53},
        {"n": -(2**53)},
        {"n": 2**70},
        {"f": 1.0, "g": 1e21, "h": 1e-7, "i": 0.1, "j": -0.0, "k": 5e-324},
        {"nan": float("nan")},
        {"inf": float("inf")},
        {1: "int key"},
        {"t": (1, "two", [3])},
        {"s": "lone \ud800 surrogate"},
        {"\ud800": "lone surrogate key"},
        {"d": datetime.datetime(2026, 1, 1)},
        {"e": Shade.RED},
        {"b": b"bytes"},
        {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
        [True, False, None, "", {}, []],
        "just a string",
        {"esc": '\x00\x1f\x7f"\\/\b\f\n\r\t\u2028\u2029'},
    ],
)
def test_edges_agree_with_the_reference(document: Any) -> None:
    _same(document)


def test_orjson_nesting_limit_falls_back() -> None:
    deep: Any = "x"
    for _ in range(300):  # orjson refuses more than 255 levels; the reference does not
        deep = [deep]
    _same({"deep": deep})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_generated_documents_agree_with_the_reference(document: Any) -> None:
    _same(document)


def test_jws_canonical_is_jcs() -> None:
    document = {"kind": "intelligence", "body": {"name": "Ä\U0001f600", "n": 3}, "audience": "all"}
    assert jws.canonical(document) == rfc8785.dumps(document)
