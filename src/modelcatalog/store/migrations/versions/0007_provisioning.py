"""principals provisioned by an identity provider

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 02:40:00.000000

SCIM provisioning keeps, for each principal, whether it is active, the provider's id for it
(`externalId`), a display name and an e-mail address; a group made by the provider is marked as
managed by it, and read-only to catalog admins.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("display_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("managed_by", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        for column in ("updated_at", "managed_by", "email", "display_name", "external_id"):
            batch.drop_column(column)
        batch.drop_column("active")
