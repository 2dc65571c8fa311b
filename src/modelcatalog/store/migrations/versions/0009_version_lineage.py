"""lineage of model versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00.000000

What a version came from (the tables, notebooks and jobs MLflow reports when it registers the
version; the catalog version it was copied from) and what read it since (the notebooks and jobs
MLflow reports when it loads the version).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_lineage",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "direction", "kind", "identifier"),
    )


def downgrade() -> None:
    op.drop_table("version_lineage")
