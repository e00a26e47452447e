"""Tables. Times are fixed-width ISO 8601 UTC strings, so they sort the same on both backends."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for headroom.
Seq = BigInteger().with_variant(Integer(), "sqlite")

parties = Table(
    "parties",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    # active, suspended or retired (hub/parties.py); since when, and when the token stops
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_since", String(32)),
    Column("token_expires_at", String(32)),
)

# Every key a party has had, so a record keeps verifying against the key in force when it was
# received: the key whose valid_from is the latest at or before its received_at.
party_keys = Table(
    "party_keys",
    metadata,
    Column("public_key", String(64), primary_key=True),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("valid_from", String(32), nullable=False),
    Column("log_index", BigInteger),  # of the hub's party-key entry; None for the first key
    Index("ix_party_keys_party", "party_id", "valid_from"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("client_time", String(32), nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("audience_all", Boolean, nullable=False),
    Column("jws", Text, nullable=False),
    Column("salt", String(64)),
    Column("log_index", BigInteger, nullable=False, unique=True),
    UniqueConstraint("party_id", "nonce", name="uq_submissions_party_nonce"),
    Index("ix_submissions_kind_seq", "kind", "seq"),
    Index("ix_submissions_party_seq", "party_id", "seq"),
    Index("ix_submissions_received", "received_at"),
)

audiences = Table(
    "audiences",
    metadata,
    Column("submission_seq", Seq, ForeignKey("submissions.seq"), primary_key=True),
    Column("party_id", String(64), ForeignKey("parties.id"), primary_key=True),
    Index("ix_audiences_party", "party_id", "submission_seq"),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", LargeBinary, nullable=False),
)

# One row. Sequencing takes its lock, so concurrent writers on PostgreSQL queue on it and the
# log never gets a gap, a duplicate or two trees.
log_state = Table(
    "log_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# The log's keys in order (docs/log.md, "Rotating the log key"): the first row is the key
# the log started with, each later one came in with a rotation checkpoint signed by both.
log_keys = Table(
    "log_keys",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("verifier_key", Text, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    # a: the record whose arrival raised it; b: the record in force it meets
    Column("a_id", String(40), ForeignKey("submissions.id"), nullable=False, index=True),
    Column("b_id", String(40), ForeignKey("submissions.id"), nullable=False, index=True),
    Column("distance_m", Float, nullable=False),
    Column("detail", Text, nullable=False),
    Column("facts", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("party_id", String(64), ForeignKey("parties.id"), primary_key=True),
    # new on every PUT, so a delivery to the previous URL that ends late updates nothing
    Column("hook_id", String(36), nullable=False),
    Column("url", Text, nullable=False),
    # the party's last alert cursor (alerts.party_seq) delivered: resumes here after a restart
    Column("delivered_seq", BigInteger, nullable=False),
    # how the target answered is kept out of the database, so no API can echo it back
    Column("failures", Integer, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# One row per party told about something; a party's feed is its rows in party_seq order.
alerts = Table(
    "alerts",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=False),
    # The party's own cursor, 1, 2, 3...: the global seq would let a party count, from the
    # gaps between its cursors, the alerts raised for others.
    Column("party_seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("conflict_seq", Seq, ForeignKey("conflicts.seq")),
    # for alerts about a record rather than a conflict (a withdrawal, a correlation)
    Column("subject_id", String(40), ForeignKey("submissions.id")),
    Column("message", Text),
    Column("created_at", String(32), nullable=False),
    Column("acknowledged_at", String(32)),
    # the log index of the hub's alert-delivery entry: the first delivery is on the log
    Column("delivered_seq", BigInteger),
    Index("ix_alerts_party", "party_id", "seq"),
    Index("uq_alerts_party_seq", "party_id", "party_seq", unique=True),
)

# -- the TAXII view of intelligence records ----------------------------------------------------
# These hold no record of their own: every row points at an ``intelligence`` submission, which is
# the signed (or token-authenticated), logged truth and carries the audience. They exist so TAXII
# queries (by collection, type, id, version, date added) are index lookups at any size.

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
