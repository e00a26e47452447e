"""Conflicts raised by screening, and the alerts that tell parties about them.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conflicts",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("a_id", sa.String(40), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("b_id", sa.String(40), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_conflicts_a_id", "conflicts", ["a_id"])
    op.create_index("ix_conflicts_b_id", "conflicts", ["b_id"])
    op.create_table(
        "alerts",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("conflict_seq", Seq, sa.ForeignKey("conflicts.seq")),
        sa.Column("subject_id", sa.String(40), sa.ForeignKey("submissions.id")),
        sa.Column("message", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("acknowledged_at", sa.String(32)),
    )
    op.create_index("ix_alerts_party", "alerts", ["party_id", "seq"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("conflicts")
