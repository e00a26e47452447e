"""The one JSON parser for what clients send: request bodies and JWS headers and payloads.

Everything it accepts can be written back as canonical JSON (RFC 8785, whose number and string
domain is I-JSON's, RFC 7493), so a document that passes here can never make the canonical form,
the store or the log fail later. It refuses, as a 400 naming the input and never quoting a
library:

- text that is not UTF-8 or not JSON;
- nesting deeper than :data:`MAX_DEPTH`. The decoder recurses: a body of 50,000 brackets ends
  its run in ``RecursionError``, and only then (or on any other refusal) are the brackets
  counted in the text, so that the answer is the depth whatever else is wrong. A body that
  parses has its depth taken from the value, which walks its containers only (counting the
  brackets outside strings took a third of the parse of a TAXII envelope);
- ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON;
- integers beyond ±(2**53 − 1) and numbers that overflow a double (``1e400``): I-JSON
  cannot carry them without losing their value;
- strings (or keys) holding a lone UTF-16 surrogate such as ``"\\ud800"``, which no UTF-8
  encoder can write, or a NUL (``"\\u0000"``), which PostgreSQL cannot store in text: what one
  backend keeps, the other must too. Only a ``\\u`` escape can make either (the text is UTF-8,
  and strict JSON has no raw control characters in strings), so text without one is not walked;
- objects with the same key twice, which different readers resolve differently.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, NoReturn

from parley.errors import InvalidJSON

MAX_DEPTH = 64
_TOO_DEEP = f"nests arrays and objects deeper than {MAX_DEPTH} levels"
MAX_SAFE_INTEGER = 2**53 - 1

# A JSON string, unrolled so the regex engine never backtracks; anything between strings is
# structure. Brackets inside strings must not count towards the depth.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# Beyond 17 digits an integer cannot be within the safe range, and Python refuses to convert
# very long digit strings at all: judge by length before converting.
_MAX_INT_DIGITS = len(str(MAX_SAFE_INTEGER))


class _Refused(Exception):
    """Raised from inside the decoder's hooks, turned into InvalidJSON outside it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def loads(data: bytes | str, *, what: str = "the body") -> Any:
    """Parse ``data`` or raise :class:`~parley.errors.InvalidJSON` whose detail names ``what``."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            _refuse(what, "holds a character that is not valid Unicode")
    else:
        raw = bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _refuse(what, f"is not UTF-8 text (byte {exc.start + 1} cannot be read)")
    try:
        value = json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_object,
        )
    except (_Refused, json.JSONDecodeError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or _depth(raw) > MAX_DEPTH:
            _refuse(what, _TOO_DEEP)
        if isinstance(exc, _Refused):
            _refuse(what, exc.reason)
        _refuse(what, f"is not valid JSON (line {exc.lineno}, column {exc.colno})")
    if _nesting(value) > MAX_DEPTH:
        _refuse(what, _TOO_DEEP)
    reason = _unencodable(value) if b"\\u" in raw else None
    if reason:
        _refuse(what, reason)
    return value


def _refuse(what: str, reason: str) -> NoReturn:
    raise InvalidJSON(f"{what} {reason}") from None


def _depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings, counted in C rather than in a loop
    (text that did not parse)."""
    structure = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if not structure:
        return 0
    return max(accumulate(map(_STEP.__getitem__, structure)))


def _nesting(value: Any) -> int:
    """How deeply a parsed value's arrays and objects nest: for text that parsed, the same as
    :func:`_depth` of the text, from a walk over the containers alone."""
    deepest = 0
    level = [value] if isinstance(value, (dict, list)) else []
    while level:
        deepest += 1
        inner = []
        for container in level:
            items = container.values() if isinstance(container, dict) else container
            inner += [item for item in items if isinstance(item, (dict, list))]
        level = inner
    return deepest


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS or abs(int(digits)) > MAX_SAFE_INTEGER:
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


def _constant(name: str) -> NoReturn:
    raise _Refused(f"holds {name}, which is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    for key, _ in pairs:  # name the first key seen again, in the order sent
        if key in seen:
            raise _Refused(f"has the key {_abbreviate(key)!r} twice in one object")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a repeat")  # pragma: no cover


def _unencodable(value: Any) -> str | None:
    """Why a string in ``value`` cannot be written as UTF-8 or stored as text, if one cannot;
    the walk is a loop, and the depth is bounded anyway."""
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


def _abbreviate(text: str, keep: int = 40) -> str:
    return text if len(text) <= keep else f"{text[:keep]}… ({len(text)} characters)"
