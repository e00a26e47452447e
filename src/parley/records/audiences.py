"""The one audience rule for records that refer to other records (docs/entries.md).

A record that names another record tells its own audience that the other record exists, and
often something about it (it was acknowledged, withdrawn, found substantiated). So the referring
record's audience must lie within its subject's: a subject for every party admits any audience;
a subject restricted to a list admits only a list drawn from it. Records that change the subject
for everyone who can see it (a withdrawal, a status, an amendment) must have exactly the
subject's audience, or those outside the change would watch its effect without seeing its cause.

Audiences here are as stored: None for every party, otherwise the set of party ids with the
author always among them.
"""

from __future__ import annotations

from collections.abc import Iterable

from parley.errors import Unprocessable

Audience = Iterable[str] | None


def within(audience: Audience, subject: Audience) -> bool:
    """Whether a record for ``audience`` may refer to a record for ``subject``."""
    if subject is None:
        return True
    return audience is not None and set(audience) <= set(subject)


def same(audience: Audience, subject: Audience) -> bool:
    if audience is None or subject is None:
        return audience is None and subject is None
    return set(audience) == set(subject)


def require_within(
    audience: Audience, subject: Audience, *, what: str, subject_name: str, refers: str
) -> None:
    """Refuse (422, storing nothing) a reference wider than its subject.

    ``field`` is the audience; ``refers`` the body field naming the subject. The words give
    the reason but never the subject's audience: nothing more should travel through an error
    than the author could read for itself."""
    if not within(audience, subject):
        raise Unprocessable(
            f"the {what}'s audience must lie within the {subject_name}'s: it may name only "
            f"parties that can see the {subject_name}",
            field="audience",
            refers=refers,
        )


def require_same(
    audience: Audience, subject: Audience, *, what: str, subject_name: str, refers: str
) -> None:
    """Refuse (422) a state change whose audience is not exactly its subject's."""
    if not same(audience, subject):
        raise Unprocessable(
            f"the {what}'s audience must be the {subject_name}'s: it changes the "
            f"{subject_name} for every party that can see it, so it is told to exactly those",
            field="audience",
            refers=refers,
        )
