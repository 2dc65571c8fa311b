"""principals linked to the identity provider (single sign-on)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 08:40:00.000000

A principal that signs in with the organisation's OpenID Connect provider is linked to it by
the provider's issuer and subject; a token issued at such a sign-in says so, so that turning
personal access tokens off for people leaves it working.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_identities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_sign_in_at", sa.BigInteger(), nullable=False),
        sa.Column("admin_from_group", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_index("ix_external_identities_principal_id", "external_identities", ["principal_id"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("origin")
    op.drop_index("ix_external_identities_principal_id", table_name="external_identities")
    op.drop_table("external_identities")
