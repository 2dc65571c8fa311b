"""an index for the versions of a run

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 12:30:00.000000

MLflow's version search by `run_id` is paged in version id order: this index walks one run's
versions in that order, so a page costs the same however many versions the catalog holds.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_model_versions_run", "model_versions", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_run", table_name="model_versions")
