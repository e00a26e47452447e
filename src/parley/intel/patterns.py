"""The common STIX patterns read without ANTLR, to the same result.

Most indicators carry the simplest patterns (``[ipv4-addr:value = '198.51.100.1']``, a file
hash, a few comparisons joined by AND or OR), and stix2-patterns' ANTLR grammar, in pure Python,
costs about half a millisecond to parse one: most of checking an indicator. :func:`simple` reads
a small, strict subset of the grammar by regular expressions and answers what the parse tree
would (the comparisons stix2-patterns' ``InspectionListener`` collects); anything outside the
subset answers ``None`` and goes to ANTLR. So this can only ever be wrong by accepting
something ANTLR would refuse, and the subset is chosen so that cannot happen:

* every token is one the ANTLR lexer makes of the same characters: identifiers are neither
  keywords nor ``true``/``false`` (which the lexer would make keywords or booleans, in any
  case), strings hold no backslash and no control character, white space is only the space;
* the token sequence is one the grammar derives: observations ``[ ... ]`` joined by AND, OR or
  FOLLOWEDBY (no parentheses, no qualifiers, so no duplicate qualifier), each a list of
  ``type:path = 'string'`` or ``!=`` comparisons joined by AND or OR, the path an identifier and
  then ``.identifier`` or ``.'string'`` steps (no index steps);
* comparisons are listed in the order the listener meets them (left to right).

tests/test_stix_patterns_fast.py holds :func:`simple` to ANTLR on a corpus of valid, invalid and
near-miss patterns and on generated ones.
"""

from __future__ import annotations

import re

# The grammar's keywords and boolean literals, compared case-insensitively (stricter than the
# lexer, which makes only some spellings keywords): an identifier spelt so is left to ANTLR.
_RESERVED = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUPERSET",
        "ISSUBSET",
        "EXISTS",
        "LAST",
        "IN",
        "START",
        "STOP",
        "SECONDS",
        "TRUE",
        "FALSE",
        "WITHIN",
        "REPEATS",
        "TIMES",
    ]
)

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_TYPE = r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"
# A string literal with no escape in it: any character but the quote, the backslash, control
# characters and lone surrogates (those few are left to ANTLR).
_STRING = r"'[^'\\\x00-\x1f\x7f\ud800-\udfff]*'"

_COMPARISON = re.compile(rf"({_TYPE}):({_ID})((?:\.(?:{_ID}|{_STRING}))*) *(!=|=) *({_STRING})")
_STEP = re.compile(rf"\.(?:({_ID})|({_STRING}))")
_OPEN = re.compile(r"\[ *")
_INSIDE = re.compile(r" +(AND|OR) +| *(\])")
_BETWEEN = re.compile(r" +(AND|OR|FOLLOWEDBY) +\[ *| *(\Z)")

Comparisons = dict[str, list[tuple[list[str], str, str]]]


def simple(pattern: str) -> Comparisons | None:
    """The comparisons of a pattern in the subset (each object type's list of ``(path,
    operator, literal)``, as stix2-patterns' ``InspectionListener`` gives them), or ``None``
    for a pattern outside it, which only ANTLR can judge."""
    opened = _OPEN.match(pattern)
    if opened is None:
        return None
    pos = opened.end()
    found: Comparisons = {}
    end = len(pattern)
    while True:
        m = _COMPARISON.match(pattern, pos)
        if m is None:
            return None
        stix_type, first, steps, operator, literal = m.groups()
        if stix_type.upper() in _RESERVED or first.upper() in _RESERVED:
            return None
        path = [first]
        for step in _STEP.finditer(steps):
            name, quoted = step.groups()
            if name is None:
                path.append(quoted[1:-1])
            elif name.upper() in _RESERVED:
                return None
            else:
                path.append(name)
        found.setdefault(stix_type, []).append((path, operator, literal))
        pos = m.end()
        joined = _INSIDE.match(pattern, pos)
        if joined is None:
            return None
        pos = joined.end()
        if joined.group(2) is None:
            continue  # AND / OR: another comparison
        after = _BETWEEN.match(pattern, pos)
        if after is None:
            return None
        if after.group(2) is not None:
            return found if after.end() == end else None
        pos = after.end()
