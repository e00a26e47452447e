"""The timestamp comparisons without strptime give stix2-validator's answers (issue 17).

intel/checking.py runs the validator's ``timestamp_compare`` and
``observable_timestamp_compare`` with their code unchanged but a faster ``datetime_from_str``;
these hold that function to the validator's on edges and generated text, and the two checks to
the validator's on objects whose times are in every order.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2validator.v21 import musts

from parley.intel import checking

EDGES = [
    "2020-01-01T00:00:00Z",
    "2020-01-01T00:00:00.1Z",
    "2020-01-01T00:00:00.123456Z",
    "2020-01-01T00:00:00.1234567Z",
    "2020-01-01T00:00:00.000000Z",
    "2020-01-01T00:00:00.Z",
    "2020-02-30T00:00:00Z",
    "2016-02-29T12:34:56.789Z",
    "2017-02-29T12:34:56.789Z",
    "2020-01-01T23:59:60Z",
    "2020-01-01T24:00:00Z",
    "2020-01-01t00:00:00z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2020-13-01T00:00:00Z",
    "2020-00-01T00:00:00Z",
    "2020-1-01T00:00:00Z",
    " 2020-01-01T00:00:00Z",
    "2020-01-01T00:00:00Z\n",
    "2020-01-01T00:00:00+00:00",
    "x",
    "",
]


@pytest.mark.parametrize("text", EDGES)
def test_datetime_from_str_is_the_validators(text: str) -> None:
    assert checking.datetime_from_str(text) == musts.datetime_from_str(text)


digits = st.text(alphabet="0123456789", min_size=1, max_size=3)
stamps = st.builds(
    lambda y, mo, d, h, mi, s, f, z: f"{y}-{mo}-{d}T{h}:{mi}:{s}{f}{z}",
    st.text(alphabet="0123456789", min_size=3, max_size=5),
    digits,
    digits,
    digits,
    digits,
    digits,
    st.sampled_from(["", "."]).flatmap(
        lambda dot: st.text(alphabet="0123456789", max_size=8).map(lambda f: dot + f)
    ),
    st.sampled_from(["Z", "z", "", "+00:00"]),
)


@settings(max_examples=1500, deadline=None)
@given(stamps | st.text(max_size=30))
def test_generated_text_reads_as_the_validator_reads_it(text: str) -> None:
    assert checking.datetime_from_str(text) == musts.datetime_from_str(text)


TIMES = [
    "2020-01-01T00:00:00Z",
    "2020-01-01T00:00:00.5Z",
    "2020-01-01T00:00:00.000Z",
    "2020-01-01T00:00:01.000Z",
    "2019-12-31T23:59:59.999999Z",
    "2020-02-30T00:00:00Z",
]


@pytest.mark.parametrize("first", TIMES)
@pytest.mark.parametrize("second", TIMES)
def test_the_comparisons_are_the_validators(first: str, second: str) -> None:
    objects = [
        {
            "type": "indicator",
            "id": "indicator--4bc6b7f0-ef41-41b2-8c3a-b369996dd58d",
            "created": first,
            "modified": second,
            "valid_from": first,
            "valid_until": second,
        },
        {
            "type": "observed-data",
            "id": "observed-data--4bc6b7f0-ef41-41b2-8c3a-b369996dd58d",
            "first_observed": first,
            "last_observed": second,
        },
        {
            "type": "x509-certificate",
            "id": "x509-certificate--4bc6b7f0-ef41-41b2-8c3a-b369996dd58d",
            "validity_not_before": first,
            "validity_not_after": second,
        },
        {
            "type": "network-traffic",
            "id": "network-traffic--4bc6b7f0-ef41-41b2-8c3a-b369996dd58d",
            "start": first,
            "end": second,
        },
    ]
    for obj in objects:
        mine = [str(e) for e in checking._timestamp_compare(obj)]
        theirs = [str(e) for e in musts.timestamp_compare(obj)]
        assert mine == theirs
        mine = [str(e) for e in checking._observable_timestamp_compare(obj)]
        theirs = [str(e) for e in musts.observable_timestamp_compare(obj)]
        assert mine == theirs


def test_the_rules_use_the_faster_comparisons() -> None:
    rules = checking.Rules.load()
    assert checking._timestamp_compare in rules._musts
    assert checking._observable_timestamp_compare in rules._musts
    assert musts.timestamp_compare not in rules._musts


def test_normal_times_are_written_as_strftime_wrote_them() -> None:
    """stix.normal formats by hand: the same text as strftime's, padded to four digits below
    year 1000 (where glibc's %Y is not, and would sort wrong)."""
    from datetime import UTC, datetime, timedelta, timezone

    from parley.intel import stix

    zones = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]
    for year in (1000, 1970, 2026, 8999):
        for micro in (0, 5, 123456, 999999):
            for zone in zones:
                moment = datetime(year, 7, 9, 3, 4, 5, micro, tzinfo=zone)
                expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                assert stix.normal(moment) == expected
    assert stix.normal(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"
