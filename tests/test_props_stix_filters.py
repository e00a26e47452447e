"""Properties of the TAXII query reader (``added_after``, ``limit`` and ``match[...]``).

Any query string a client sends gives either a filter whose every value is in normal form, or a
400 from parley's error tree; never another exception (which would be a 500).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from hypothesis import example, given, settings
from hypothesis import strategies as st

from parley.errors import BadRequest
from parley.intel import filters
from parley.intel.stix import normal_timestamp, parse_timestamp

NAMES = (
    "added_after",
    "limit",
    "next",
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
)
NORMAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


def _stamp(moment: datetime, digits: int) -> str:
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    # %Y does not pad years below 1000 on every platform; STIX always writes four digits.
    base = f"{moment.year:04d}{base[base.index('-') :]}"
    fraction = f"{moment.microsecond:06d}".ljust(digits, "7")[:digits]
    return f"{base}.{fraction}Z" if digits else f"{base}Z"


_VALUE_PARTS = st.sampled_from(
    ["last", "first", "all", "indicator", "2.1", "2026-01-31T12:00:00Z", ",", " ", "", "x"]
)
VALUES = (
    st.text(max_size=40)
    | st.lists(_VALUE_PARTS, max_size=5).map("".join)
    | MOMENTS.map(lambda m: _stamp(m, 3))
)
PARAMS = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=12), VALUES, max_size=6)


def _check(params: dict[str, str], ids: bool, types: bool, versions: bool) -> None:
    try:
        found = filters.parse(params, ids=ids, types=types, versions=versions)
    except BadRequest as exc:
        assert exc.status == 400 and exc.detail
    else:
        if found.added_after is not None:
            assert NORMAL.fullmatch(found.added_after)
        for values in (found.ids, found.types, found.spec_versions):
            assert values is None or (values and list(values) == sorted(set(values)))
            assert values is None or all(v and v == v.strip() for v in values)
        assert found.versions == ("all",) or all(
            v in filters.KEYWORDS or NORMAL.fullmatch(v) for v in found.versions
        )
        assert (found.versions == ()) is (not versions)
        assert (
            found.fingerprint()
            == filters.parse(params, ids=ids, types=types, versions=versions).fingerprint()
        )
    try:
        size = filters.limit(params)
    except BadRequest as exc:
        assert exc.status == 400
    else:
        assert 1 <= size <= filters.MAX_LIMIT


@settings(max_examples=200, deadline=None)
@given(PARAMS, st.booleans(), st.booleans(), st.booleans())
@example({"limit": "9" * 5000}, True, True, True)
@example({"added_after": "2026-02-30T00:00:00Z"}, True, True, True)
@example({"match[version]": "all,2026-01-01T00:00:00Z,bogus"}, True, True, True)
@example({"added_after": "0999-01-01T00:00:00Z"}, True, True, True)
def test_arbitrary_parameters_give_a_filter_or_a_400(
    params: dict[str, str], ids: bool, types: bool, versions: bool
) -> None:
    _check(params, ids, types, versions)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
@example("added_after=%FF&match%5Bversion%5D=%00")
def test_arbitrary_query_strings_give_a_filter_or_a_400(query: str) -> None:
    """As the server reads them: parse_qsl, blank values kept, the last value of a name wins."""
    _check(dict(parse_qsl(query, keep_blank_values=True)), True, True, True)


@settings(max_examples=150, deadline=None)
@given(MOMENTS, st.integers(0, 9))
def test_timestamps_read_to_their_normal_form_and_back(moment: datetime, digits: int) -> None:
    text = _stamp(moment, digits)
    normal = normal_timestamp(text)
    assert NORMAL.fullmatch(normal)
    assert normal_timestamp(normal) == normal
    read = parse_timestamp(text)
    assert read.replace(tzinfo=None, microsecond=0) == moment.replace(microsecond=0)
    query = urlencode({"added_after": text, "match[version]": f"last,{text}"})
    found = filters.parse(dict(parse_qsl(query)))
    assert found.added_after == normal
    assert found.versions == tuple(sorted(("last", normal)))
    assert parse_timestamp(normal) == read.astimezone(UTC)


@settings(max_examples=150, deadline=None)
@given(MOMENTS, MOMENTS)
@example(datetime(999, 1, 1), datetime(2026, 1, 1))
def test_normal_timestamps_sort_as_their_moments_compare(a: datetime, b: datetime) -> None:
    """The store compares added_after and versions as text; glibc wrote year 999 as "999"."""
    first, second = normal_timestamp(_stamp(a, 6)), normal_timestamp(_stamp(b, 6))
    assert (first < second) == (a < b)
