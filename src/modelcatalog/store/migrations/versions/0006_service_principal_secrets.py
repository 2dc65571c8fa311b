"""OAuth secrets of service principals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 02:30:00.000000

A service principal exchanges an OAuth secret (client credentials) for short-lived access
tokens. Its client id is its application id; each secret is kept as its hash; an access token
remembers the secret it came from, so that deleting the secret ends the tokens too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("application_id", sa.String(length=36), nullable=True))
        batch.create_unique_constraint("uq_principals_application_id", ["application_id"])
    op.create_table(
        "service_principal_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index(
        "ix_service_principal_secrets_principal_id", "service_principal_secrets", ["principal_id"]
    )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("secret_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_tokens_secret_id",
            "service_principal_secrets",
            ["secret_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_tokens_secret_id", ["secret_id"])


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_secret_id")
        batch.drop_constraint("fk_tokens_secret_id", type_="foreignkey")
        batch.drop_column("secret_id")
    op.drop_index(
        "ix_service_principal_secrets_principal_id", table_name="service_principal_secrets"
    )
    op.drop_table("service_principal_secrets")
    with op.batch_alter_table("principals") as batch:
        batch.drop_constraint("uq_principals_application_id", type_="unique")
        batch.drop_column("application_id")
