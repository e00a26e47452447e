"""strict_json.loads answers every text exactly as the parser it replaced did: the same value, or
the same refusal with the same words.

The previous parser (session 12) counted the brackets in the text before decoding and walked
every string of the value afterwards; session 13 takes the depth from the value and walks the
strings only when the text holds a ``\\u`` escape. It is kept here, unchanged, as the oracle.
Texts are built from fragments that reach every refusal: nesting on either side of the limit,
repeated keys, escapes that make surrogates and NULs, brackets inside strings, numbers beyond
I-JSON, constants that are not JSON, and truncated (broken) text.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.errors import InvalidJSON
from parley.formats import strict_json

# -- the oracle: strict_json.loads as it was at 42f0190 ------------------------------------------

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class _Refused(Exception):
    pass


def _depth(raw: bytes) -> int:
    structure = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    return max(accumulate(map(_STEP.__getitem__, structure))) if structure else 0


def _abbreviate(text: str, keep: int = 40) -> str:
    return text if len(text) <= keep else f"{text[:keep]}… ({len(text)} characters)"


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > 16 or abs(int(digits)) > 2**53 - 1:
        raise _Refused(
            f"holds the integer {_abbreviate(digits)}, beyond ±(2**53 - 1), "
            "which JSON readers cannot all represent exactly"
        )
    return int(digits)


def _float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {_abbreviate(digits)}, too large for a double")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"has the key {_abbreviate(key)!r} twice in one object")
        found[key] = value
    return found


def _unencodable(value: Any) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings = [item]
        elif isinstance(item, dict):
            strings = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return "holds a string with a lone UTF-16 surrogate (such as \\ud800)"
            if "\x00" in text:
                return "holds a string with a NUL character (\\u0000)"
    return None


def oracle(raw: bytes) -> tuple[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ("refused", f"is not UTF-8 text (byte {exc.start + 1} cannot be read)")
    if _depth(raw) > 64:
        return ("refused", "nests arrays and objects deeper than 64 levels")
    try:
        value = json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except _Refused as exc:
        return ("refused", str(exc))
    except json.JSONDecodeError as exc:
        return ("refused", f"is not valid JSON (line {exc.lineno}, column {exc.colno})")
    reason = _unencodable(value)
    return ("refused", reason) if reason else ("parsed", value)


def now(raw: bytes) -> tuple[str, Any]:
    try:
        return ("parsed", strict_json.loads(raw, what="the text"))
    except InvalidJSON as exc:
        assert exc.detail.startswith("the text ")
        return ("refused", exc.detail.removeprefix("the text "))


# -- texts ------------------------------------------------------------------------------------

STRINGS = [
    '"a"',
    '"b"',
    '""',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d\\ude00"',
    '"\\u00e9"',
    '"C:\\\\users"',  # a backslash then "u": no escape, whatever a byte search says
    '"\\\\u0000"',
    '"\\"["',
    '"{]}"',
    '"é😀"',
]
NUMBERS = [
    "0",
    "-0",
    "1",
    "-1",
    "2.5",
    "-0.0",
    "1e2",
    "1E-7",
    "1e400",
    "-1e400",
    "1.7976931348623157e308",
]
NUMBERS += [str(2**53 - 1), str(-(2**53 - 1)), str(2**53), str(-(2**53)), "1" * 30, "1" * 17]
CONSTANTS = ["true", "false", "null", "NaN", "Infinity", "-Infinity"]

scalars = st.sampled_from(STRINGS + NUMBERS + CONSTANTS)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arrays = st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
    keys = st.sampled_from([*STRINGS[:8], '"["', '"}"'])
    members = st.lists(st.tuples(keys, children), max_size=4)
    objects = members.map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
    return arrays | objects


values = st.recursive(scalars, _containers, max_leaves=25)


@st.composite
def texts(draw: st.DrawFn) -> bytes:
    text = draw(values)
    levels = draw(st.sampled_from([0, 0, 1, 30, 62, 63, 64, 65, 80, 1500]))
    left, right = draw(st.sampled_from([("[", "]"), ('{"k":', "}")]))
    text = left * levels + text + right * levels
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # broken text
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=1500, deadline=None)
@given(texts())
def test_every_text_is_answered_as_the_oracle_answers_it(raw: bytes) -> None:
    assert now(raw) == oracle(raw)


def test_the_texts_reach_every_answer() -> None:
    """The fragments above do reach each refusal and real values (so the comparison is not
    between two parsers that refuse everything)."""
    cases = {
        b'{"a": 1, "a": 2}': "twice",
        b'["\\ud800"]': "surrogate",
        b'{"\\u0000": 1}': "NUL",
        b"[" * 65 + b"]" * 65: "deeper",
        b"[" * 1500 + b"1" + b"]" * 1500: "deeper",
        b"[" * 70 + b"1,]" + b"]" * 69: "deeper",
        b"[1e400]": "too large",
        b"[NaN]": "NaN",
        b"[" + b"1" * 30 + b"]": "beyond",
        b"[1,": "not valid JSON",
        b'"\xff"': "not UTF-8",
    }
    for raw, words in cases.items():
        kind, detail = now(raw)
        assert kind == "refused" and words in detail, (raw[:40], detail)
        assert now(raw) == oracle(raw)
    deep = b"[" * 64 + b'"\\u00e9"' + b"]" * 64
    assert now(deep) == oracle(deep) and now(deep)[0] == "parsed"
    assert now(b'{"a": "C:\\\\users", "b": [1, 2.5]}') == (
        "parsed",
        {"a": "C:\\users", "b": [1, 2.5]},
    )
