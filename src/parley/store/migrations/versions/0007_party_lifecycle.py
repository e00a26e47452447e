"""Party lifecycle: a status (active, suspended, retired), a token expiry, and key history.

``party_keys`` holds every public key a party has had and when it came into force, so records
received under a key that was later rotated away keep verifying. Each party's key at this
revision is its first, in force since the party was registered. A public key may belong to one
party only: the store refuses a second registration (not the database, since hubs before this
revision could hold the same key for two parties; those keep the first party's claim here).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("status_since", sa.String(32), nullable=True))
        batch.add_column(sa.Column("token_expires_at", sa.String(32), nullable=True))
    op.create_table(
        "party_keys",
        sa.Column("public_key", sa.String(64), primary_key=True),
        sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("valid_from", sa.String(32), nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_party_keys_party", "party_keys", ["party_id", "valid_from"])
    op.execute(
        "INSERT INTO party_keys (public_key, party_id, valid_from, log_index) "
        "SELECT public_key, MIN(id), MIN(created_at), NULL FROM parties GROUP BY public_key"
    )


def downgrade() -> None:
    op.drop_index("ix_party_keys_party", "party_keys")
    op.drop_table("party_keys")
    with op.batch_alter_table("parties") as batch:
        batch.drop_column("token_expires_at")
        batch.drop_column("status_since")
        batch.drop_column("status")
