"""Per-party alert cursors, and webhooks that remember which URL a delivery was for.

A party's alert cursors were the global alert sequence, so the gaps between them counted the
alerts raised for other parties. Each alert now also carries ``party_seq``: 1, 2, 3... per
party, numbered here in the order the party's alerts were raised. A webhook's delivery progress
moves to that numbering, gets a ``hook_id`` that changes on every PUT, and no longer stores how
the target answered.

Revision ID: 0005
Revises: 0004
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("party_seq", sa.BigInteger, nullable=True))
    # Portable on both backends; the (party_id, seq) index keeps each count short.
    op.execute(
        "UPDATE alerts SET party_seq = (SELECT COUNT(*) FROM alerts AS earlier "
        "WHERE earlier.party_id = alerts.party_id AND earlier.seq <= alerts.seq)"
    )
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("party_seq", existing_type=sa.BigInteger, nullable=False)
    op.create_index("uq_alerts_party_seq", "alerts", ["party_id", "party_seq"], unique=True)

    op.add_column("webhooks", sa.Column("hook_id", sa.String(36), nullable=True))
    # delivered_seq held a global alert seq: the party's last alert at or before it, or 0.
    op.execute(
        "UPDATE webhooks SET delivered_seq = COALESCE((SELECT MAX(alerts.party_seq) "
        "FROM alerts WHERE alerts.party_id = webhooks.party_id "
        "AND alerts.seq <= webhooks.delivered_seq), 0)"
    )
    bind = op.get_bind()
    hooks = sa.table("webhooks", sa.column("party_id"), sa.column("hook_id"))
    for (party,) in bind.execute(sa.select(hooks.c.party_id)).all():
        bind.execute(
            hooks.update().where(hooks.c.party_id == party).values(hook_id=str(uuid.uuid4()))
        )
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("hook_id", existing_type=sa.String(36), nullable=False)
        batch.drop_column("last_error")


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("last_error", sa.Text))
        batch.drop_column("hook_id")
    op.execute(
        "UPDATE webhooks SET delivered_seq = COALESCE((SELECT MAX(alerts.seq) FROM alerts "
        "WHERE alerts.party_id = webhooks.party_id "
        "AND alerts.party_seq <= webhooks.delivered_seq), 0)"
    )
    op.drop_index("uq_alerts_party_seq", "alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("party_seq")
