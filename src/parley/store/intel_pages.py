"""The statement of a TAXII page (Get Objects, the manifest, an object's versions), built once
per filter shape with bound parameters: building it and its SQLAlchemy cache key for each page
cost more than running it. :class:`parley.store.intel.IntelTables` runs it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from parley.store import schema as t
from parley.store.base import visible_to


@dataclass(frozen=True)
class PageShape:
    """Which of a page's filters a request uses: one statement is built per shape."""

    with_objects: bool
    one_object: bool
    added_after: bool
    ids: bool
    types: bool
    spec_versions: bool
    first: bool
    last: bool
    named_versions: bool


@functools.cache
def page_query(shape: PageShape) -> Any:
    """The page statement of one shape, with bound parameters, built once: building it and its
    cache key for each page cost more than running it (2.7 against 1.2 ms a page of 100)."""
    o = t.intel_objects.c
    columns: list[Any] = [
        o.seq,
        o.stix_id,
        o.version,
        o.date_added,
        o.spec_version,
        o.submission_id,
    ]
    if shape.with_objects:
        columns.append(t.submissions.c.jws)
    collection: BindParameter[str] = bindparam("collection")
    conditions = [
        o.collection_id == collection,
        o.seq > bindparam("after"),
        visible_to(bindparam("viewer")),
    ]
    if shape.one_object:
        conditions.append(o.stix_id == bindparam("stix_id"))
    if shape.added_after:
        added_after: BindParameter[str] = bindparam("added_after")
        conditions.append(o.date_added > added_after)
        # date_added never decreases along seq, so the first row added after the time bounds
        # the seq range too: the scan starts there instead of at the collection's beginning.
        start = (
            select(func.min(o.seq))
            .where(o.collection_id == collection, o.date_added > added_after)
            .scalar_subquery()
        )
        conditions.append(o.seq >= start)
    if shape.ids:
        conditions.append(o.stix_id.in_(bindparam("ids", expanding=True)))
    if shape.types:
        conditions.append(o.stix_type.in_(bindparam("types", expanding=True)))
    if shape.spec_versions:
        conditions.append(o.spec_version.in_(bindparam("spec_versions", expanding=True)))
    chosen = [_edge_version(w) for w, on in (("first", shape.first), ("last", shape.last)) if on]
    if shape.named_versions:
        chosen.append(o.version.in_(bindparam("versions", expanding=True)))
    if chosen:
        conditions.append(or_(*chosen))
    return (
        select(*columns)
        .select_from(joined())
        .where(and_(*conditions))
        .order_by(o.seq)
        .limit(bindparam("limit"))
    )


def joined() -> Any:
    """Object rows with their submissions: the audience check and the JWS are there."""
    o = t.intel_objects
    return o.join(t.submissions, t.submissions.c.id == o.c.submission_id)


# One alias for every query: a fresh ``aliased()`` per page is a new cache key for SQLAlchemy
# to build and compile (a millisecond a page).
_OTHER = aliased(t.intel_objects, name="other_version")


def _edge_version(wanted: str) -> ColumnElement[bool]:
    """``first``/``last`` compare with the other versions of the same object in the same
    collection; every row of a collection has the collection's audience, so a reader of the
    collection sees every version and first and last are the same for all of its readers."""
    o = t.intel_objects.c
    other = _OTHER
    beyond = other.c.version > o.version if wanted == "last" else other.c.version < o.version
    return ~exists().where(
        other.c.collection_id == o.collection_id, other.c.stix_id == o.stix_id, beyond
    )
