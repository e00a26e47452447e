"""Tables for the TAXII view of intelligence records, on the store's ``metadata``.

These hold no record of their own: every row points at an ``intelligence`` submission, which is
the signed (or token-authenticated), logged truth and carries the audience. They exist so TAXII
queries (by collection, type, id, version, date added) are index lookups at any size.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from parley.store.schema import Seq, metadata

# A collection per audience: "all", or one set of parties. Built-in collections ("all" and
# each pair of members) need no row; a row names a configured collection or one first used by
# a signed submission, so it can be listed.
intel_collections = Table(
    "intel_collections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("parties", Text, nullable=False, unique=True),  # sorted, comma-separated
    Column("title", String(200), nullable=False),
    Column("description", Text),
    Column("alias", String(100), unique=True),
    Column("created_at", String(32), nullable=False),
)

# One row per STIX object version in a collection. ``seq`` orders a collection in the order its
# objects were added, and ``date_added`` never decreases with it (both are assigned under the
# ``intel_state`` lock), so one index serves paging, ``added_after`` and the date headers.
intel_objects = Table(
    "intel_objects",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("collection_id", String(36), nullable=False),
    Column("stix_id", String(300), nullable=False),
    Column("stix_type", String(250), nullable=False),
    Column("version", String(32), nullable=False),
    Column("spec_version", String(8), nullable=False),
    Column("date_added", String(32), nullable=False),
    Column("submission_id", String(40), ForeignKey("submissions.id"), nullable=False, unique=True),
    UniqueConstraint("collection_id", "stix_id", "version", name="uq_intel_objects_version"),
    Index("ix_intel_objects_collection_seq", "collection_id", "seq"),
    Index("ix_intel_objects_collection_type_seq", "collection_id", "stix_type", "seq"),
    Index("ix_intel_objects_collection_added", "collection_id", "date_added"),
)

# The status of each add request, readable only by the party that made it.
intel_status = Table(
    "intel_status",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("document", Text, nullable=False),
)

# One row: how far the index has read the submissions, and the last date_added it gave. Its
# row lock serialises indexing across processes, which is what keeps date_added monotonic.
intel_state = Table(
    "intel_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("synced_seq", Seq, nullable=False),
    Column("last_added", String(32), nullable=False),
)
