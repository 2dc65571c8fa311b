"""browser sessions of the web UI

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 21:10:00.000000

A person signed in to the web UI holds a session: its secret's hash, its principal, the token
its forms carry against cross-site requests, and when it was last used and ends.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index("ix_browser_sessions_principal", "browser_sessions", ["principal_id"])


def downgrade() -> None:
    op.drop_index("ix_browser_sessions_principal", table_name="browser_sessions")
    op.drop_table("browser_sessions")
