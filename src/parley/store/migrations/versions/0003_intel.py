"""The TAXII view of intelligence records: collections, object versions, add statuses.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "intel_collections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("parties", sa.Text, nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("alias", sa.String(100), unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "intel_objects",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("stix_id", sa.String(300), nullable=False),
        sa.Column("stix_type", sa.String(250), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("spec_version", sa.String(8), nullable=False),
        sa.Column("date_added", sa.String(32), nullable=False),
        sa.Column(
            "submission_id",
            sa.String(40),
            sa.ForeignKey("submissions.id"),
            nullable=False,
            unique=True,
        ),
        sa.UniqueConstraint("collection_id", "stix_id", "version", name="uq_intel_objects_version"),
    )
    op.create_index("ix_intel_objects_collection_seq", "intel_objects", ["collection_id", "seq"])
    op.create_index(
        "ix_intel_objects_collection_type_seq",
        "intel_objects",
        ["collection_id", "stix_type", "seq"],
    )
    op.create_index(
        "ix_intel_objects_collection_added", "intel_objects", ["collection_id", "date_added"]
    )
    op.create_table(
        "intel_status",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "intel_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("synced_seq", Seq, nullable=False),
        sa.Column("last_added", sa.String(32), nullable=False),
    )
    op.execute("INSERT INTO intel_state (id, synced_seq, last_added) VALUES (1, 0, '')")


def downgrade() -> None:
    for table in ("intel_state", "intel_status", "intel_objects", "intel_collections"):
        op.drop_table(table)
