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
    Index("ix_alerts_party", "party_id", "seq"),
    Index("uq_alerts_party_seq", "party_id", "party_seq", unique=True),
)
import parley.intel.schema  # noqa: F401, E402  (the TAXII index tables, same metadata)
