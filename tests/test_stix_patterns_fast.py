"""The STIX patterns parley reads without ANTLR get ANTLR's answer, and every pattern the
validator's answer.

parley.intel.patterns.simple reads a strict subset of the pattern grammar by regular expressions
and hands anything else to stix2-patterns' ANTLR parser. It is safe only if every pattern it
reads is one ANTLR parses without error to the same comparisons; these tests hold it to that on
a corpus of valid, invalid and near-miss patterns (escaped quotes, keywords as names, hyphens,
other white space, comments, nested observations, qualifiers, hex/binary/timestamp literals,
LIKE/MATCHES/ISSUBSET/FOLLOWEDBY/START-STOP) and on generated ones; and hold the whole pattern
check (parley.intel.checking._pattern) to stix2-validator's own ``patterns`` check, word for
word.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions
from stix2validator.v21 import musts

from parley.intel import checking, patterns

SHA256 = "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"

CORPUS = [
    # The common simple ones (the subset).
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value='198.51.100.1']",
    "[ ipv4-addr:value = '198.51.100.1' ]  ",
    "[ipv4-addr:value != '198.51.100.1']",
    "[ipv6-addr:value = '2001:db8::1']",
    "[domain-name:value = 'example.org']",
    "[url:value = 'http://example.org/a?b=c&d=[e]']",
    "[file:hashes.'SHA-256' = '" + SHA256 + "']",
    "[file:hashes.MD5 = 'not hex']",
    "[file:hashes.'SHA-256' = 'not hex either']",
    "[file:hashes.SHA256 = '" + SHA256 + "']",
    "[file:name = 'dropper.exe' AND file:size_x = 'y']",
    "[file:name = 'a' OR file:name = 'b' AND file:parent_directory_ref.path = 'c']",
    "[email-message:from_ref.value = 'a@example.org']",
    "[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'example.org']",
    "[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '1.2.3.5'] FOLLOWEDBY [url:value = 'x']",
    "[x-parley-thing:some_field = 'a']",
    "[x-parley-thing:Bad = 'a']",
    "[ipv4-addr:Value = '1.2.3.4']",
    "[ab:value = 'too short a type']",
    "[Bad_Type:value = 'x']",
    "[a--b:value = 'x']",
    "[ipv4-addr:value = '']",
    "[ipv4-addr:value = 'ünïcödé ☃ 𝄞']",
    "[ipv4-addr:value = 'a\u00a0b']",
    "[process:extensions.'windows-process-ext'.aslr_enabled = 'x']",
    "[process:'quoted first' = 'x']",
    "[_under:value = 'x']",
    "[x_y-z:v_1 = 'x']",
    # Just outside the subset: ANTLR decides.
    "[ipv4-addr:value = 'it\\'s']",
    "[ipv4-addr:value = 'back\\\\slash']",
    "[ipv4-addr:value = 'bad \\escape']",
    "[ipv4-addr:value = 'unclosed]",
    "[ipv4-addr:value = '1.2.3.4'",
    "ipv4-addr:value = '1.2.3.4'",
    " [ipv4-addr:value = '1.2.3.4']",
    "\t[ipv4-addr:value = '1.2.3.4']",
    "[ipv4-addr:value\t= '1.2.3.4']",
    "[ipv4-addr:value =\u00a0'1.2.3.4']",
    "[ipv4-addr:value = '1.2.3.4']\n",
    "[ipv4-addr:value = '1.2.3.4'] /* comment */",
    "[ipv4-addr:value = '1.2.3.4'] // comment",
    "[ipv4-addr:value == '1.2.3.4']",
    "[ipv4-addr:value <> '1.2.3.4']",
    "[ipv4-addr:value = = '1.2.3.4']",
    "[ipv4-addr :value = '1.2.3.4']",
    "[ipv4-addr: value = '1.2.3.4']",
    "[ipv4-addr:value = 1]",
    "[ipv4-addr:value = -1]",
    "[ipv4-addr:value = 1.5]",
    "[ipv4-addr:value = true]",
    "[ipv4-addr:value = h'0aFF']",
    "[ipv4-addr:value = h'0aF']",
    "[artifact:payload_bin = b'aGVsbG8=']",
    "[artifact:payload_bin = b'not base64!']",
    "[file:created = t'2026-01-01T00:00:00Z']",
    "[file:created = t'2026-01-01T00:00:00.123Z']",
    "[file:created = t'2026-13-01T00:00:00Z']",
    "[file:created > t'2026-01-01T00:00:00Z']",
    "[file:size > 100 AND file:size <= 200]",
    "[file:name LIKE 'drop%.exe']",
    "[file:name NOT LIKE 'drop%.exe']",
    "[email-message:from_ref.value MATCHES '.+@example\\\\.com$']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv4-addr:value ISSUPERSET '198.51.100.0/24']",
    "[ipv4-addr:value IN ('1.2.3.4', '1.2.3.5')]",
    "[ipv4-addr:value NOT IN ()]",
    "[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS",
    "[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES",
    "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
    "[ipv4-addr:value = '1.2.3.4'] START t'2026-01-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'",
    "[ipv4-addr:value = '1.2.3.4'] START '2026-01-01T00:00:00Z' STOP '2026-01-02T00:00:00Z'",
    "([ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '1.2.3.5']) REPEATS 5 TIMES",
    "(([ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [url:value = 'x']) AND [file:name = 'y'])",
    "[(ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '1.2.3.5') AND url:value = 'x']",
    "[windows-registry-key:values[*].name = 'Foo']",
    "[windows-registry-key:values[0].name = 'Foo']",
    "[process:extensions.'windows-process-ext'.aslr_enabled = true]",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port = 443]",
    "[ipv4-addr:value = '1.2.3.4'] and [url:value = 'x']",
    "[ipv4-addr:value = '1.2.3.4'] AND",
    "[ipv4-addr:value = '1.2.3.4'] AND []",
    "[ipv4-addr:value = '1.2.3.4'][url:value = 'x']",
    "[ipv4-addr:value = '1.2.3.4' AND]",
    "[ipv4-addr:value = '1.2.3.4'AND url:value = 'x']",
    "[ipv4-addr:value = '1.2.3.4' and url:value = 'x']",
    "[ipv4-addr:value = '1.2.3.4' FOLLOWEDBY url:value = 'x']",
    "[AND:value = 'x']",
    "[x-thing:AND = 'x']",
    "[x-thing:true = 'x']",
    "[x-thing:value.IN = 'x']",
    "[x-thing:value.in = 'x']",
    "[x-thing:value.'in' = 'x']",
    "[true:value = 'x']",
    "[t:value = 'x']",
    "[h:value = 'x']",
    "[x-thing:value.SHA-256 = 'x']",
    "[x-thing-:value = 'x']",
    "[-x:value = 'x']",
    "[9x:value = 'x']",
    "[x-thing:9value = 'x']",
    "[x-thing:value. x = 'x']",
    "[x-thing:value..x = 'x']",
    "[x-thing:value.5 = 'x']",
    "[x-thing:value = 'x' ] ]",
    "[[x-thing:value = 'x']]",
    "[]",
    "",
    " ",
    "[",
    "]",
    "[x-thing:value = 'x']]",
    "[x-thing:value = 'a\x00b']",
    "[x-thing:value = 'a\nb']",
    "[x-thing:value = 'a\ud800b']",
]

OPTIONS = ValidationOptions(version="2.1")


def _indicator(pattern: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z",
    }


def _outcome(check: Any, obj: dict[str, Any]) -> list[str] | str:
    try:
        return [str(e) for e in check(obj, OPTIONS)]
    except Exception as exc:
        return type(exc).__name__


def _same_as_antlr(pattern: str) -> bool:
    """Whether :func:`patterns.simple` read the pattern; fails unless it read it as ANTLR does."""
    mine = patterns.simple(pattern)
    if mine is None:
        return False
    errors, comparisons = checking._parse_antlr(pattern)
    syntax = [e for e in errors if "is not a valid" not in e]  # the hash checks run on both
    assert syntax == [], f"read {pattern!r}, which ANTLR refuses: {syntax}"
    assert mine == comparisons, pattern
    assert checking._parse(pattern) == (errors, comparisons), pattern
    return True


def test_the_corpus_exercises_both_paths() -> None:
    read = [p for p in CORPUS if patterns.simple(p) is not None]
    assert len(read) >= 25
    assert len(CORPUS) - len(read) >= 80


@pytest.mark.parametrize("pattern", CORPUS)
def test_fast_reading_is_antlrs(pattern: str) -> None:
    _same_as_antlr(pattern)


@pytest.mark.parametrize("pattern", CORPUS)
def test_pattern_check_is_the_validators(pattern: str) -> None:
    obj = _indicator(pattern)
    assert _outcome(checking._pattern, obj) == _outcome(musts.patterns, obj)


def test_a_simple_pattern_skips_antlr(monkeypatch: pytest.MonkeyPatch) -> None:
    from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser

    parses: list[int] = []
    original = STIXPatternParser.pattern

    def counted(self: STIXPatternParser) -> Any:
        parses.append(1)
        return original(self)

    monkeypatch.setattr(STIXPatternParser, "pattern", counted)
    list(checking._pattern(_indicator("[ipv4-addr:value = '10.0.0.1']"), OPTIONS))
    assert parses == []
    list(checking._pattern(_indicator("[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS"), OPTIONS))
    assert parses == [1]


# Generated patterns: pieces of the subset, each now and then swapped for a piece just outside
# it, so that near misses of every kind meet the fast reader next to patterns it reads.


def _mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(good * (300 // len(good) + 1) + bad)


_NAMES = _mostly(
    ["value", "name", "hashes", "x_y", "_a", "Value", "b"],
    ["AND", "and", "in", "true", "False", "SHA-256", "a-b", "9a", "t", "h", ""],
)
_TYPES = _mostly(
    ["ipv4-addr", "file", "x-parley-thing", "ab", "Bad_Type", "t", "x_y-z"],
    ["a--b", "x-", "-x", "OR", "9a", "x y"],
)
_CHARS = _mostly(list("ab.1 -%[]()é𝄞\u00a0"), list("'\\\n\t\x00\ud800"))
_STRINGS = st.lists(_CHARS, max_size=5).map(lambda cs: "'" + "".join(cs) + "'")
_LITERALS = st.one_of(
    *[_STRINGS] * 12,
    st.sampled_from(["1", "-1", "1.5", "true", "h'0a'", "b'aGk='", "t'2026-01-01T00:00:00Z'"]),
)
_SPACE = _mostly(["", " ", "  "], ["\t", "\n", "\u00a0", "/**/"])
_OPS = _mostly(["=", "!="], ["==", "<>", ">", "LIKE", "MATCHES", "ISSUBSET", "= =", "IN"])
_STEP = st.one_of(_NAMES.map(lambda n: "." + n), _STRINGS.map(lambda s: "." + s))
_STEPS = st.lists(
    _mostly(["", ""], ["[*]", "[0]", "..", ". "]).flatmap(
        lambda odd: _STEP.map(lambda step: odd + step)
    ),
    max_size=2,
).map("".join)
_JOINS = _mostly([" AND ", " OR "], [" and ", "AND", " FOLLOWEDBY ", " NOT "])


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    return (
        draw(_TYPES)
        + draw(_mostly([":"], [" :", ": ", "::"]))
        + draw(_NAMES)
        + draw(_STEPS)
        + draw(_SPACE)
        + draw(_OPS)
        + draw(_SPACE)
        + draw(_LITERALS)
    )


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    observations = []
    for _ in range(draw(st.integers(1, 3))):
        inside = draw(_comparison())
        for _ in range(draw(st.integers(0, 2))):
            inside += draw(_JOINS) + draw(_comparison())
        observations.append("[" + draw(_SPACE) + inside + draw(_SPACE) + "]")
    joined = observations[0]
    for observation in observations[1:]:
        joined += draw(_mostly([" AND ", " OR ", " FOLLOWEDBY "], ["AND", " and ", ""]))
        joined += observation
    return joined + draw(_mostly(["", " "], ["]", " WITHIN 5 SECONDS", "\n", "(", "\t"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pattern())
def test_generated_patterns_read_as_antlr_reads_them(pattern: str) -> None:
    _same_as_antlr(pattern)
    obj = _indicator(pattern)
    assert _outcome(checking._pattern, obj) == _outcome(musts.patterns, obj)


def test_simple_patterns_are_fast() -> None:
    """Why the subset exists: reading one is a small fraction of an ANTLR parse."""
    pattern = "[ipv4-addr:value = '10.0.0.1']"
    start = time.process_time()
    for _ in range(200):
        checking._parse_antlr(pattern)
    antlr = time.process_time() - start
    start = time.process_time()
    for _ in range(200):
        checking._parse(pattern)
    fast = time.process_time() - start
    assert fast * 5 < antlr
