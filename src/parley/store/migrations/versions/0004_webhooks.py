"""Webhooks: where each party wants its alerts pushed, and how far delivery has got.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("delivered_seq", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhooks")
