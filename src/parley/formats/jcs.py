"""RFC 8785 (JCS) canonical JSON, fast for the documents the hub writes.

The ``rfc8785`` package is the reference; it is pure Python (about 70 µs for a TAXII object's
submission). orjson with sorted keys writes the same bytes for a document made only of dicts
with string keys below U+D800, lists, strings, booleans, null and integers within ±(2**53 - 1):
its string escaping is JCS's for every code point (\\b \\t \\n \\f \\r, \\" and \\\\, other
controls as lowercase \\u00xx, everything else as UTF-8; tests/test_taxii_speed_jcs.py checks
all of them), and below U+D800 the order of UTF-8 bytes that it sorts keys by is the order of
UTF-16 code units that JCS sorts them by. Anything else (a float, a key at or above U+D800, a
subclass, a type JCS does not know) goes to ``rfc8785``, so the answer, and every error, is the
reference's.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_INT_MAX = 2**53 - 1
_INT_MIN = -(2**53) + 1
# Below the surrogates, UTF-8 byte order and UTF-16 code unit order agree.
_SORT_SAFE_BELOW = "\ud800"


def canonical(document: Any) -> bytes:
    if _plain(document):
        try:
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, say, or nesting deeper than orjson goes: the reference decides
    return rfc8785.dumps(document)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT_MIN <= value <= _INT_MAX)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if not key.isascii() and key and max(key) >= _SORT_SAFE_BELOW:
                return False
            if not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False
