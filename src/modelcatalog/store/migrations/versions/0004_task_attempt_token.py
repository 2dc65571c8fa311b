"""task attempts name their token

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:07:07.000000

A deployment task's token is revoked by its id, kept on the attempt it was made for. Before this
revision the attempt did not name it, and a lost task's token was found by its comment. A
database upgraded while an attempt was running (a server stopped or killed mid-task, or a
worker of the old release still busy) holds such a token, live until it expires: the new
release must still be able to revoke it once it takes the task for lost. So the upgrade links
every unfinished attempt to the live token whose comment the old release wrote for it (an
exact match, once); the running code never reads comments.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ATTEMPTS = sa.table(
    "task_attempts",
    sa.column("task_run_id", sa.String),
    sa.column("attempt", sa.Integer),
    sa.column("ended_at", sa.BigInteger),
    sa.column("token_id", sa.String),
)
_TASK_RUNS = sa.table(
    "task_runs", sa.column("id", sa.String), sa.column("run_id", sa.String), sa.column("task_name")
)
_JOB_RUNS = sa.table("job_runs", sa.column("id", sa.String), sa.column("model_id", sa.String))
_TOKENS = sa.table(
    "tokens",
    sa.column("id", sa.String),
    sa.column("comment", sa.Text),
    sa.column("scope_model_id", sa.String),
    sa.column("revoked_at", sa.BigInteger),
)


def upgrade() -> None:
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.String(length=32), nullable=True))
    _link_live_task_tokens(op.get_bind())


def _link_live_task_tokens(connection: sa.Connection) -> None:
    """Name on each unfinished attempt the live token the old release made for it, found by
    the comment it wrote: "deployment run <run id>, task <task name>, attempt <n>"."""
    live = connection.execute(
        sa.select(_TOKENS.c.id, _TOKENS.c.comment, _TOKENS.c.scope_model_id).where(
            _TOKENS.c.scope_model_id.is_not(None), _TOKENS.c.revoked_at.is_(None)
        )
    )
    token_of = {(row.scope_model_id, row.comment): row.id for row in live}
    unfinished = connection.execute(
        sa.select(
            _ATTEMPTS.c.task_run_id,
            _ATTEMPTS.c.attempt,
            _TASK_RUNS.c.run_id,
            _TASK_RUNS.c.task_name,
            _JOB_RUNS.c.model_id,
        )
        .join(_TASK_RUNS, _TASK_RUNS.c.id == _ATTEMPTS.c.task_run_id)
        .join(_JOB_RUNS, _JOB_RUNS.c.id == _TASK_RUNS.c.run_id)
        .where(_ATTEMPTS.c.ended_at.is_(None))
    ).all()
    for row in unfinished:
        comment = f"deployment run {row.run_id}, task {row.task_name}, attempt {row.attempt}"
        token_id = token_of.get((row.model_id, comment))
        if token_id is not None:
            connection.execute(
                sa.update(_ATTEMPTS)
                .where(
                    _ATTEMPTS.c.task_run_id == row.task_run_id,
                    _ATTEMPTS.c.attempt == row.attempt,
                )
                .values(token_id=token_id)
            )


def downgrade() -> None:
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.drop_column("token_id")
