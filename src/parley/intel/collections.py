"""TAXII collections: each one *is* an audience, fixed for its life.

* ``all``: audience "all". Every party reads it; members write to it.
* one collection per pair of members, audience those two: each pair's private channel.
* configured collections (:func:`define`): any set of registered parties, with a title, such as
  "shared with all members". The set never changes: a party that joins later gets a new
  collection, never the history of an old one (re-binding an audience is a leak path).
* a signed ``intelligence`` submission sent through the native API with an audience that no
  collection has yet creates the collection for that audience, so it can be listed.

Reading a collection needs membership of its audience; writing also needs a role that may submit
``intelligence`` (members). A collection outside a party's audience is never listed, and asking
for it by id gets the same answer as asking for one that does not exist.

Because a collection's id is derived from its audience, every object in it, whichever way it
arrived, has exactly the collection's audience: every reader of a collection sees all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parley.errors import BadRequest, Conflict
from parley.parties import roles
from parley.store.collection_names import ALL, NAMESPACE, id_of, key_of
from parley.store.db import Party, Store
from parley.store.intel import CollectionRow

__all__ = ["ALL", "NAMESPACE", "Collection", "Collections", "define", "id_of", "key_of"]


@dataclass(frozen=True)
class Collection:
    id: str
    key: str
    title: str
    description: str | None
    alias: str | None

    @property
    def parties(self) -> frozenset[str] | None:
        """The audience: None for every party."""
        return None if self.key == ALL else frozenset(self.key.split(","))

    @property
    def audience(self) -> str | list[str]:
        """As a submission names it."""
        parties = self.parties
        return ALL if parties is None else sorted(parties)

    @classmethod
    def of(cls, row: CollectionRow) -> Collection:
        return cls(row.id, row.key, row.title, row.description, row.alias)

    def row(self) -> CollectionRow:
        """As the store keeps it."""
        return CollectionRow(self.id, self.key, self.title, self.description, self.alias)

    def can_read(self, party: Party) -> bool:
        parties = self.parties
        return parties is None or party.id in parties

    def can_write(self, party: Party) -> bool:
        return self.can_read(party) and roles.may_submit(party.role, "intelligence")

    def resource(self, party: Party) -> dict[str, object]:
        """The TAXII collection resource, as ``party`` sees it."""
        found: dict[str, object] = {"id": self.id, "title": self.title}
        if self.description:
            found["description"] = self.description
        if self.alias:
            found["alias"] = self.alias
        found.update(
            can_read=self.can_read(party),
            can_write=self.can_write(party),
            media_types=["application/stix+json;version=2.1"],
        )
        return found


def everyone() -> Collection:
    return Collection(
        id_of(ALL),
        ALL,
        "Shared with every party",
        "Intelligence every party may read; members may add to it.",
        ALL,
    )


def pair(a: str, b: str) -> Collection:
    key = key_of((a, b))
    first, second = key.split(",")
    return Collection(
        id_of(key),
        key,
        f"{first} and {second}",
        f"Intelligence shared only between {first} and {second}.",
        f"{first}+{second}",
    )


class Collections:
    """The collections of one hub; configured ones are cached and re-read when one is missing."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._stored: dict[str, Collection] = {}
        self.reload()

    def reload(self) -> None:
        rows = self.store.intel.collections()
        with self._lock:
            self._stored = {row.id: Collection.of(row) for row in rows}

    def visible(self, party: Party, parties: Sequence[Party]) -> list[Collection]:
        """Every collection ``party`` may read, in a stable order."""
        found: dict[str, Collection] = {}
        shown = [everyone()]
        if party.role == roles.Role.MEMBER:
            shown += [
                pair(party.id, other.id)
                for other in parties
                if other.role == roles.Role.MEMBER and other.id != party.id
            ]
        for collection in shown:
            found[collection.id] = collection
        # A configured title wins over the built-in one for the same audience.
        for collection in self._stored.values():
            if collection.can_read(party):
                found[collection.id] = collection
        return sorted(found.values(), key=lambda c: (c.key != ALL, c.title, c.id))

    def get(self, collection_id: str, party: Party, parties: Sequence[Party]) -> Collection | None:
        """The collection if ``party`` may read it; None if it is missing *or* hidden."""
        for attempt in range(2):
            for collection in self.visible(party, parties):
                if collection.id == collection_id:
                    return collection
            if attempt == 0 and collection_id not in self._stored:
                self.reload()  # defined by another process, perhaps
        return None

    def for_audience(self, audience: Iterable[str] | None) -> tuple[str, Collection | None]:
        """The id of the collection that holds records with this audience, and, when none is
        known here for it, the collection to create with its first object (the store creates
        it only if no process has yet: :meth:`parley.store.intel.IntelTables.index`)."""
        key = key_of(audience)
        collection_id = id_of(key)
        if key == ALL or collection_id in self._stored:
            return collection_id, None
        names = key.split(",")
        collection = Collection(
            collection_id,
            key,
            f"Shared by {', '.join(names)}",
            f"Intelligence shared only between {', '.join(names)}.",
            None,
        )
        return collection_id, collection

    def remember(self, collection: Collection) -> None:
        with self._lock:
            self._stored[collection.id] = collection

    def define(
        self,
        parties: Iterable[str],
        title: str,
        *,
        alias: str | None = None,
        description: str | None = None,
        known: Iterable[str] = (),
    ) -> Collection:
        """Configure the collection for a set of parties (see :func:`define`)."""
        chosen = sorted(set(parties))
        if len(chosen) < 2:
            raise BadRequest("a collection is shared by at least two parties")
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise BadRequest(f"no such parties: {', '.join(unknown)}")
        if not title.strip():
            raise BadRequest("a collection needs a title")
        if alias == ALL:
            raise BadRequest(f"the alias {ALL!r} is the built-in collection's")
        key = key_of(chosen)
        collection = Collection(id_of(key), key, title.strip(), description, alias)
        if not self.store.intel.define_collection(collection.row()):
            raise Conflict(
                "a collection for exactly these parties, or with this alias, already exists; "
                "a collection's audience and name are fixed once defined"
            )
        self.reload()
        return collection


def define(
    store: Store,
    parties: Iterable[str],
    title: str,
    *,
    alias: str | None = None,
    description: str | None = None,
) -> Collection:
    """Configure a named collection shared by ``parties`` (the CLI hook).

    ``define(store, [p.id for p in store.parties() if p.role == "member"], "Shared with all
    members", alias="members")`` makes the members' collection of the day.
    """
    known = [p.id for p in store.parties()]
    return Collections(store).define(
        parties, title, alias=alias, description=description, known=known
    )
