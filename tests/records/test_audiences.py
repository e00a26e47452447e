"""The one audience rule for records that refer to other records: a reference may not tell
anyone more than its subject does, and a state change goes to exactly its subject's audience.
Audiences are as stored: None for every party, else the set of party ids."""

from __future__ import annotations

import pytest

from parley.errors import Unprocessable
from parley.records import audiences
from parley.records.audiences import Audience

ALL = None
WITHIN = [
    # (story, the referring record's audience, its subject's, allowed?)
    ("everyone may refer to a record for everyone", ALL, ALL, True),
    ("a restricted reference to a record for everyone", {"alpha", "monitor"}, ALL, True),
    (
        "a reference for everyone to a restricted site tells outsiders it exists",
        ALL,
        {"bravo"},
        False,
    ),
    ("the same parties as the subject", {"alpha", "bravo"}, {"bravo", "alpha"}, True),
    ("a subset of the subject's parties", {"alpha"}, {"alpha", "bravo"}, True),
    ("one party too many", {"alpha", "charlie"}, {"alpha", "bravo"}, False),
    ("disjoint parties", {"charlie"}, {"alpha", "bravo"}, False),
    ("given as a list, compared as a set", ["alpha", "alpha"], ["alpha", "bravo"], True),
]


@pytest.mark.parametrize(
    ("audience", "subject", "allowed"), [r[1:] for r in WITHIN], ids=[r[0] for r in WITHIN]
)
def test_a_reference_lies_within_its_subject(
    audience: Audience, subject: Audience, allowed: bool
) -> None:
    assert audiences.within(audience, subject) is allowed
    args = {"what": "acknowledgement", "subject_name": "site", "refers": "body.record"}
    if allowed:
        audiences.require_within(audience, subject, **args)
        return
    with pytest.raises(Unprocessable, match="must lie within the site's") as caught:
        audiences.require_within(audience, subject, **args)
    assert caught.value.extra == {"field": "audience", "refers": "body.record"}
    # The refusal never names the subject's parties: the author may not be able to see them.
    for party in subject or ():
        if party not in (audience or ()):
            assert party not in caught.value.detail


SAME = [
    ("a withdrawal for everyone of a site for everyone", ALL, ALL, True),
    ("a status for the operation's exact parties", {"alpha", "bravo"}, {"bravo", "alpha"}, True),
    ("a status told to fewer than can see the operation", {"alpha"}, {"alpha", "bravo"}, False),
    ("a status for everyone on a restricted operation", ALL, {"alpha", "bravo"}, False),
    ("a restricted status on an operation for everyone", {"alpha", "bravo"}, ALL, False),
]


@pytest.mark.parametrize(
    ("audience", "subject", "allowed"), [r[1:] for r in SAME], ids=[r[0] for r in SAME]
)
def test_a_state_change_goes_to_exactly_its_subjects_audience(
    audience: Audience, subject: Audience, allowed: bool
) -> None:
    assert audiences.same(audience, subject) is allowed
    args = {"what": "status", "subject_name": "operation", "refers": "body.operation"}
    if allowed:
        audiences.require_same(audience, subject, **args)
        return
    with pytest.raises(Unprocessable, match="must be the operation's") as caught:
        audiences.require_same(audience, subject, **args)
    assert caught.value.extra == {"field": "audience", "refers": "body.operation"}
    assert not audiences.same(subject, audience)  # symmetric
