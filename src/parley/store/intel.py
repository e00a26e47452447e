"""The TAXII index of ``intelligence`` submissions: collections, object versions, add statuses.

Every read joins each object row to its submission and applies :func:`visible_to`, on top of the
collection check the caller made. Indexing happens under the ``intel_state`` row lock, so
``date_added`` never decreases along ``seq`` and a page read never misses a row committed later.
The rules (which collection holds what, what a version is) are ``parley.intel``'s; this module
only keeps and finds rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from parley import clock
from parley.store import base
from parley.store import collection_names as named
from parley.store import intel_pages as pages
from parley.store import schema as t
from parley.store.base import Base, visible_to
from parley.store.rows import stored_body

_CHUNK = 500  # rows per multi-row INSERT: well under both databases' limit on parameters
_LOCK_STATE = "UPDATE intel_state SET id = id WHERE id = 1 RETURNING synced_seq, last_added"
_WAITING = "SELECT seq, id FROM submissions WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?"
_OBJECT_COLUMNS = (
    "collection_id",
    "stix_id",
    "stix_type",
    "version",
    "spec_version",
    "date_added",
    "submission_id",
)
_INSERT_OBJECTS = f"INSERT INTO intel_objects ({', '.join(_OBJECT_COLUMNS)}) VALUES "
# A version the collection holds already (uq_intel_objects_version) is not indexed again; the
# rows that were written come back, so nothing is read first.
_FIRST_ONLY = (
    " ON CONFLICT (collection_id, stix_id, version) DO NOTHING RETURNING submission_id, version"
)
_INSERT_STATUS = "INSERT INTO intel_status (id, party_id, created_at, document) VALUES (?, ?, ?, ?)"
_SAVE_STATE = "UPDATE intel_state SET synced_seq = ?, last_added = ? WHERE id = 1"


@dataclass(frozen=True)
class CollectionRow:
    id: str
    key: str  # the audience: "all" or sorted, comma-separated party ids
    title: str
    description: str | None
    alias: str | None


@dataclass(frozen=True)
class Unindexed:
    """An intelligence submission the index has not read yet."""

    seq: int
    id: str
    party_id: str
    audience_all: bool
    jws: str


@dataclass(frozen=True)
class IndexBatch:
    """What one indexing step writes: object rows (keys as ``intel_objects``' columns), the
    collections they need that may not exist yet, and the last ``date_added`` given."""

    objects: list[dict[str, Any]]
    collections: list[CollectionRow]
    last_added: str


class IntelTables:
    """The facade's ``intel``: shares the store's engines."""

    def __init__(self, db: Base) -> None:
        self._db = db

    @property
    def engine(self) -> Engine:
        return self._db.engine

    # -- collections --------------------------------------------------------------------------

    def collections(self) -> list[CollectionRow]:
        c = t.intel_collections.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.id, c.parties, c.title, c.description, c.alias)).all()
        return [CollectionRow(*row) for row in rows]

    def define_collection(self, collection: CollectionRow) -> bool:
        """Store a configured collection; False if one with its audience or alias exists."""
        try:
            with self.engine.begin() as conn:
                _insert_collection(conn, collection)
        except IntegrityError:
            return False
        return True

    # -- indexing -----------------------------------------------------------------------------

    def behind(self, kind: str) -> bool:
        """Whether a submission of ``kind`` is newer than the index (cheap when none is)."""
        with self.engine.connect() as conn:
            row = conn.execute(_behind_query(kind)).one()
        return row[1] is not None and row[1] > row[0]

    def unindexed(self, kind: str, limit: int) -> tuple[int, list[Unindexed]]:
        """How far the index has read, and the next ``limit`` submissions of ``kind``."""
        c = t.submissions.c
        with self.engine.connect() as conn:
            synced = conn.execute(select(t.intel_state.c.synced_seq)).scalar_one()
            subs = conn.execute(
                select(c.seq, c.id, c.party_id, c.audience_all, c.jws)
                .where(c.kind == kind, c.seq > synced)
                .order_by(c.seq)
                .limit(limit)
            ).all()
        return int(synced), [Unindexed(*sub) for sub in subs]

    def index(
        self, synced: int, through: int, build: Callable[[str], IndexBatch]
    ) -> list[CollectionRow] | None:
        """Write one batch, the submissions after ``synced`` up to the seq ``through``, under
        the ``intel_state`` lock, if the index still stands at ``synced`` (None if another
        process indexed meanwhile). ``build`` gets the last ``date_added`` given, read under
        the lock. Answers the collections it created."""
        with self.engine.begin() as conn:
            with base.dbapi_cursor(conn) as cursor:
                now_synced, last_added = self._lock_state(cursor)
            if now_synced != synced:
                return None
            return self._write(conn, build(last_added), through)[0]

    def index_within(
        self, conn: Connection, kind: str, ids: Sequence[str], build: Callable[[str], IndexBatch]
    ) -> tuple[list[CollectionRow], dict[str, str]] | None:
        """Index submissions inside the transaction that appends them (``conn``), if they are
        exactly the submissions of ``kind`` the index has not read yet; None otherwise (an
        earlier one is still waiting for :meth:`index`, which then takes these too). Answers
        the collections created and the version each submission was indexed as."""
        with base.dbapi_cursor(conn) as cursor:
            now_synced, last_added = self._lock_state(cursor)
            cursor.execute(self._db._sql(_WAITING), (kind, now_synced, len(ids) + 1))
            waiting = cursor.fetchall()
        if not waiting or sorted(row[1] for row in waiting) != sorted(ids):
            return None
        return self._write(conn, build(last_added), max(row[0] for row in waiting))

    # -- indexing, under the ``intel_state`` lock ---------------------------------------------
    # On the DB-API cursor: these run inside the writer's transaction for every TAXII add, where
    # SQLAlchemy's statement building cost more than the statements (bench/README.md, issue 17).

    def _lock_state(self, cursor: Any) -> tuple[int, str]:
        """The index's state, read under its lock: the UPDATE takes it (the row lock on
        PostgreSQL, the database's write lock on SQLite) before anything is read."""
        cursor.execute(_LOCK_STATE)
        synced, last_added = cursor.fetchone()
        return int(synced), str(last_added)

    def _write(
        self, conn: Connection, batch: IndexBatch, through: int
    ) -> tuple[list[CollectionRow], dict[str, str]]:
        """One batch's collections, rows and new state; the collections created and the version
        each submission was indexed as (a version the collection held already, or one given
        twice in the batch, is indexed once, from its first submission)."""
        created = []
        for collection in batch.collections:
            stored = conn.execute(
                select(t.intel_collections.c.id).where(t.intel_collections.c.id == collection.id)
            ).first()
            if stored is None:
                # inserted with its first object, so it exists exactly when that does
                _insert_collection(conn, collection)
                created.append(collection)
        versions: dict[str, str] = {}
        with base.dbapi_cursor(conn) as cursor:
            for start in range(0, len(batch.objects), _CHUNK):
                chunk = batch.objects[start : start + _CHUNK]
                values = [row[column] for row in chunk for column in _OBJECT_COLUMNS]
                rows = base.values_rows(len(chunk), len(_OBJECT_COLUMNS))
                cursor.execute(self._db._sql(_INSERT_OBJECTS + rows + _FIRST_ONLY), values)
                versions.update((str(row[0]), str(row[1])) for row in cursor.fetchall())
            cursor.execute(self._db._sql(_SAVE_STATE), (through, batch.last_added))
        return created, versions

    def indexed(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """The version each of these submissions was indexed as (absent: not indexed)."""
        o = t.intel_objects.c
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(submission_ids):
                query = select(o.submission_id, o.version).where(o.submission_id.in_(chunk))
                found.update((row[0], row[1]) for row in conn.execute(query))
        return found

    def existing(
        self, viewer: str, collection_id: str, stix_ids: Iterable[str]
    ) -> set[tuple[str, str]]:
        """The (id, version) pairs of these objects the collection holds, among rows ``viewer``
        sees."""
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(stix_ids))):
                params = {"viewer": viewer, "collection": collection_id, "ids": list(chunk)}
                found.update((row[0], row[1]) for row in conn.execute(_existing_query(), params))
        return found

    # -- reading ------------------------------------------------------------------------------

    def page(
        self,
        viewer: str,
        collection_id: str,
        *,
        after: int,
        limit: int,
        stix_id: str | None = None,
        with_objects: bool = False,
        added_after: str | None = None,
        ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        spec_versions: Sequence[str] | None = None,
        versions: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        """Up to ``limit`` rows (seq, id, version, date_added, spec_version, submission_id and,
        ``with_objects``, the submission's JWS) of a collection ``viewer`` may see, in the order
        they were added, after the position ``after``; the rest narrow as TAXII's filters do
        (``versions``: "first", "last", "all" or versions; empty, no version filter)."""
        named = [v for v in versions if v not in ("first", "last")]
        every = not versions or "all" in versions
        shape = pages.PageShape(
            with_objects=with_objects,
            one_object=stix_id is not None,
            added_after=added_after is not None,
            ids=ids is not None,
            types=types is not None,
            spec_versions=spec_versions is not None,
            first=not every and "first" in versions,
            last=not every and "last" in versions,
            named_versions=not every and bool(named),
        )
        params: dict[str, Any] = {
            "viewer": viewer,
            "collection": collection_id,
            "after": after,
            "limit": limit,
            "stix_id": stix_id,
            "added_after": added_after,
            "ids": list(ids or ()),
            "types": list(types or ()),
            "spec_versions": list(spec_versions or ()),
            "versions": named,
        }
        # Every name is given; SQLAlchemy binds only those the shape's statement uses.
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(pages.page_query(shape), params)]

    def holds(self, viewer: str, collection_id: str, stix_id: str) -> bool:
        """Whether the collection has any version of the object that ``viewer`` may see."""
        o = t.intel_objects.c
        query = (
            select(o.seq)
            .select_from(pages.joined())
            .where(o.collection_id == collection_id, o.stix_id == stix_id, visible_to(viewer))
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def audiences(self, stix_id: str, viewer: str) -> list[frozenset[str] | None]:
        """The audiences of the intelligence records ``viewer`` may see whose object has id
        ``stix_id`` (None: every party). Indexed objects are found through the TAXII index, in
        the collections ``viewer`` could read (so the lookup uses the collection's index); the
        few the index has not reached yet, by reading their bodies."""
        with self.engine.connect() as conn:
            parties = conn.execute(select(t.parties.c.id).order_by(t.parties.c.id)).scalars()
            keys = {named.ALL} | {named.key_of((viewer, p)) for p in parties}
            stored = conn.execute(select(t.intel_collections.c.parties)).scalars()
            keys |= {k for k in stored if viewer in k.split(",")}
            held = {
                "viewer": viewer,
                "stix_id": stix_id,
                "collections": list(map(named.id_of, keys)),
            }
            found = [row[0] for row in conn.execute(_held_query(), held)]
            synced = conn.execute(select(t.intel_state.c.synced_seq)).scalar() or 0
            since = {"viewer": viewer, "synced": synced}
            recent = conn.execute(_recent_query(), since).all()
            found += [row[0] for row in recent if stored_body(row[1]).get("id") == stix_id]
            return [base.audience_of(conn, record) for record in found]

    # -- add statuses -------------------------------------------------------------------------

    def save_status(
        self, party: str, status_id: str, document: str, conn: Connection | None = None
    ) -> None:
        """Keep a status, in ``conn``'s transaction if given (else in one of its own)."""
        values = (status_id, party, clock.iso(clock.now()), document)
        if conn is not None:
            with base.dbapi_cursor(conn) as cursor:  # in the writer's transaction: its hot path
                cursor.execute(self._db._sql(_INSERT_STATUS), values)
            return
        with self.engine.begin() as own, base.dbapi_cursor(own) as cursor:
            cursor.execute(self._db._sql(_INSERT_STATUS), values)

    def status(self, party: str, status_id: str) -> str | None:
        """A status document, only for the party whose request it describes."""
        s = t.intel_status.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.document).where(s.id == status_id, s.party_id == party)
            ).first()
        return None if row is None else str(row[0])


def _insert_collection(conn: Connection, collection: CollectionRow) -> None:
    conn.execute(
        insert(t.intel_collections).values(
            id=collection.id,
            parties=collection.key,
            title=collection.title,
            description=collection.description,
            alias=collection.alias,
            created_at=clock.iso(clock.now()),
        )
    )


@functools.cache
def _held_query() -> Any:
    """Built once, as the next: the rule on STIX references asks for every id an object names,
    and building the statements cost about as much as running them."""
    c = t.submissions.c
    o = t.intel_objects.c
    return (
        select(c.id)
        .select_from(t.submissions.join(t.intel_objects, o.submission_id == c.id))
        .where(
            o.collection_id.in_(bindparam("collections", expanding=True)),
            o.stix_id == bindparam("stix_id"),
            visible_to(bindparam("viewer")),
        )
    )


@functools.cache
def _recent_query() -> Any:
    c = t.submissions.c
    return select(c.id, c.jws).where(
        c.kind == "intelligence", c.seq > bindparam("synced"), visible_to(bindparam("viewer"))
    )


@functools.cache
def _existing_query() -> Any:
    """Built once, with the audience check on a bound viewer: every TAXII add runs it."""
    o = t.intel_objects.c
    return (
        select(o.stix_id, o.version)
        .select_from(pages.joined())
        .where(
            o.collection_id == bindparam("collection"),
            o.stix_id.in_(bindparam("ids", expanding=True)),
            visible_to(bindparam("viewer")),
        )
    )


@functools.cache
def _behind_query(kind: str) -> Any:
    """Built once: it runs on every TAXII request, and building it cost more than running it."""
    c = t.submissions.c
    latest = select(func.max(c.seq)).where(c.kind == kind).scalar_subquery()
    return select(t.intel_state.c.synced_seq, latest)


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
