"""Alert deliveries: which alerts have their first delivery to their party on the log.

``alerts.delivered_seq`` is the log index of the hub's ``alert-delivery`` entry for the alert,
NULL until one is recorded. Alerts raised before this revision keep NULL: their next delivery
(an API read, a stream event, a webhook answered 2xx) is the first one the log records.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("delivered_seq", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("delivered_seq")
