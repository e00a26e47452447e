"""Parties, submissions, audiences and the log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("client_time", sa.String(32), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("audience_all", sa.Boolean, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("salt", sa.String(64)),
        sa.Column("log_index", sa.BigInteger, nullable=False, unique=True),
        sa.UniqueConstraint("party_id", "nonce", name="uq_submissions_party_nonce"),
    )
    op.create_index("ix_submissions_kind_seq", "submissions", ["kind", "seq"])
    op.create_index("ix_submissions_party_seq", "submissions", ["party_id", "seq"])
    op.create_index("ix_submissions_received", "submissions", ["received_at"])
    op.create_table(
        "audiences",
        sa.Column("submission_seq", Seq, sa.ForeignKey("submissions.seq"), primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
    )
    op.create_index("ix_audiences_party", "audiences", ["party_id", "submission_seq"])
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO log_state (id, size) VALUES (1, 0)")
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "log_state", "log_entries", "audiences", "submissions"):
        op.drop_table(table)
    op.drop_table("parties")
