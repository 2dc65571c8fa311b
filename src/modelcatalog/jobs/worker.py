"""Running one task attempt: claim it, run its process with a scoped token, keep a heartbeat,
record the outcome. The same code runs in the server's embedded workers and in Celery workers.

A claim and an outcome are each one conditional update, so a task delivered twice runs once, and
an attempt whose worker died (no heartbeat for a lease) is failed or retried by the engine."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select, update

from modelcatalog.service import measures, principals
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.definition import TEMPLATE, JobDefinition, Task
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount

log = logging.getLogger("modelcatalog.jobs")

#: How much of a task's output is kept (the end of it, where errors are).
OUTPUT_LIMIT = 64 * 1024
#: Variables of the worker's own environment that a task never inherits: the catalog's database
#: URI and password, its secret key and tokens. (Credentials a deployment needs, such as a
#: cloud's, may come from the worker's environment on purpose.)
PRIVATE_ENV = re.compile(
    r"^(MODELCATALOG_|PGPASSWORD$|DATABRICKS_TOKEN$|MLFLOW_TRACKING_TOKEN$|MLFLOW_TRACKING_PASSWORD$)"
)


@dataclass
class Claim:
    """What a worker needs to run one attempt, read when it claimed the task."""

    task_run_id: str
    run_id: str
    attempt: int
    task: Task
    parameters: dict[str, str]
    model_name: str
    version: int
    token_id: str
    token: str = field(repr=False)


@dataclass
class Outcome:
    exit_code: int | None
    output: str
    problem: str | None  # None: success


def _registry_uri(public_url: str) -> str:
    parts = urlsplit(public_url)
    scheme = "modelcatalog+https" if parts.scheme == "https" else "modelcatalog"
    return f"{scheme}://{parts.netloc}{parts.path}"


def claim(ctx: ServiceContext, task_run_id: str, worker: str) -> Claim | None:
    """Take a queued task for this worker, or None if another worker has it or it was cancelled."""
    stamp = now_ms()
    with ctx.db.write() as session:
        row = session.get(t.TaskRun, task_run_id)
        if row is None or row.state not in (runs.QUEUED, runs.SUBMITTED):
            return None
        run = session.get(t.JobRun, row.run_id)
        if run is None or run.state in runs.RUN_FINISHED:
            return None
        attempt = row.attempt + 1
        taken = rowcount(
            session.execute(
                update(t.TaskRun)
                .where(t.TaskRun.id == row.id, t.TaskRun.state.in_((runs.QUEUED, runs.SUBMITTED)))
                .values(
                    state=runs.TASK_RUNNING,
                    attempt=attempt,
                    worker=worker,
                    started_at=stamp,
                    heartbeat_at=stamp,
                    exit_code=None,
                )
            )
        )
        if not taken:
            return None
        session.refresh(row)
        definition = JobDefinition.from_json(run.definition)
        task = definition.task(row.task_name)
        owner = session.scalar(
            select(t.Principal)
            .join(t.RegisteredModel, t.RegisteredModel.owner == t.Principal.name)
            .where(t.RegisteredModel.id == run.model_id)
        )
        token = principals.new_token()
        token_id = new_id()
        # A group holds no tokens: a task of a model owned by one runs without a token.
        holder = owner if owner is not None and owner.kind != "group" else None
        session.add(
            t.TaskAttempt(
                task_run_id=row.id,
                attempt=attempt,
                started_at=stamp,
                token_id=token_id if holder is not None else None,
            )
        )
        if holder is not None:
            lifetime = (task.timeout_seconds + ctx.jobs.lease_seconds + 60) * 1000
            session.add(
                t.Token(
                    id=token_id,
                    principal_id=holder.id,
                    token_hash=principals.hash_token(token),
                    comment=f"deployment run {run.id}, task {task.name}, attempt {attempt}",
                    created_at=stamp,
                    expires_at=int(stamp + lifetime),
                    scope_model_id=run.model_id,
                )
            )
        runs.advance(session, run)
        parameters = {k: v for k, v in definition.parameters.items() if v is not None}
        return Claim(
            row.id,
            run.id,
            attempt,
            task,
            parameters,
            run.model_name,
            run.version,
            token_id,
            token if holder is not None else "",
        )


def _arguments(claim: Claim) -> list[str]:
    values = {
        "model_name": claim.model_name,
        "model_version": str(claim.version),
        **claim.parameters,
    }
    if claim.task.kind == "entry_point":
        return [sys.executable, "-m", "modelcatalog.jobs.entry", claim.task.entry_point or ""]
    return [TEMPLATE.sub(lambda m: values[m.group(1)], arg) for arg in claim.task.command]


def _environment(ctx: ServiceContext, claim: Claim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not PRIVATE_ENV.match(k)}
    env.update(claim.task.env)
    env.update(
        MODEL_NAME=claim.model_name,
        MODEL_VERSION=str(claim.version),
        MODELCATALOG_URL=ctx.jobs.public_url,
        MODELCATALOG_TOKEN=claim.token,
        MLFLOW_REGISTRY_URI=_registry_uri(ctx.jobs.public_url),
        MODELCATALOG_RUN_ID=claim.run_id,
        MODELCATALOG_TASK_NAME=claim.task.name,
        MODELCATALOG_TASK_ATTEMPT=str(claim.attempt),
        MODELCATALOG_JOB_PARAMETERS=json.dumps(claim.parameters, sort_keys=True),
    )
    return env


def _die_with_parent() -> None:
    # Linux: the task dies with the worker, so a killed server leaves no orphan acting on a model.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class _Tail:
    """The last OUTPUT_LIMIT bytes of a stream, read in a thread."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self._chunks = bytearray()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for chunk in iter(lambda: stream.read1(65536), b""):
            self._chunks += chunk
            if len(self._chunks) > 2 * OUTPUT_LIMIT:
                del self._chunks[: len(self._chunks) - OUTPUT_LIMIT]

    def text(self) -> str:
        self._thread.join(timeout=5)
        data = bytes(self._chunks[-OUTPUT_LIMIT:])
        return data.decode("utf-8", errors="replace")


def _beat(ctx: ServiceContext, claim: Claim) -> bool:
    """Renew the lease; False when the task is no longer this attempt's (cancelled, or taken
    for lost)."""
    with ctx.db.write() as session:
        return bool(
            rowcount(
                session.execute(
                    update(t.TaskRun)
                    .where(
                        t.TaskRun.id == claim.task_run_id,
                        t.TaskRun.state == runs.TASK_RUNNING,
                        t.TaskRun.attempt == claim.attempt,
                    )
                    .values(heartbeat_at=now_ms())
                )
            )
        )


def run_process(ctx: ServiceContext, claim: Claim) -> Outcome:
    """Run the attempt's process to its end, its timeout, or its cancellation."""
    if not claim.token:
        return Outcome(
            None,
            "",
            "the model's owner is a group; a deployment task acts as a user or service "
            "principal: transfer the model to one",
        )
    folder = tempfile.mkdtemp(prefix="modelcatalog-task-")
    try:
        process = subprocess.Popen(
            _arguments(claim),
            cwd=folder,
            env=_environment(ctx, claim),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 -- must run in the child
        )
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return Outcome(None, "", f"could not start {claim.task.command[:1] or ['python']}: {exc}")
    tail = _Tail(process.stdout)
    deadline = time.monotonic() + claim.task.timeout_seconds
    interval = max(0.2, min(5.0, ctx.jobs.lease_seconds / 3))
    problem: str | None = None
    try:
        while True:
            try:
                code = process.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                problem = f"timed out after {claim.task.timeout_seconds} s"
            elif not _beat(ctx, claim):
                problem = "stopped: the run was cancelled"
            if problem:
                os.killpg(process.pid, signal.SIGKILL)
                code = process.wait()
                break
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if problem is None and code != 0:
        problem = f"exited with status {code}"
    return Outcome(code, tail.text(), problem)


def finish(ctx: ServiceContext, claim: Claim, outcome: Outcome) -> None:
    """Record an attempt's outcome: success, a retry after the task's delay, or failure."""
    stamp = now_ms()
    with ctx.db.write() as session:
        attempt = session.get(t.TaskAttempt, (claim.task_run_id, claim.attempt))
        if attempt is not None:
            attempt.ended_at, attempt.exit_code = stamp, outcome.exit_code
            attempt.output, attempt.message = outcome.output, outcome.problem
        session.execute(
            update(t.Token).where(t.Token.id == claim.token_id).values(revoked_at=stamp)
        )
        row = session.get(t.TaskRun, claim.task_run_id)
        if row is None or row.state != runs.TASK_RUNNING or row.attempt != claim.attempt:
            return  # cancelled, or already taken for lost: the newer state stands
        run = session.get(t.JobRun, row.run_id)
        settle_attempt(row, claim.task, outcome.exit_code, outcome.output, outcome.problem, stamp)
        if run is not None:
            runs.advance(session, run)
    ctx.tokens.forget(claim.token_id)


def settle_attempt(
    row: t.TaskRun,
    task: Task,
    exit_code: int | None,
    output: str | None,
    problem: str | None,
    stamp: int,
) -> None:
    """Move a task out of RUNNING after an attempt: SUCCEEDED, QUEUED for a retry, or FAILED."""
    row.exit_code, row.output, row.heartbeat_at = exit_code, output, None
    if problem is None:
        row.state, row.message, row.ended_at = runs.TASK_SUCCEEDED, None, stamp
    elif row.attempt <= task.retries:
        row.state = runs.QUEUED
        row.not_before = stamp + task.retry_delay_seconds * 1000
        row.message = (
            f"attempt {row.attempt} {problem}; retry {row.attempt} of {task.retries} in "
            f"{task.retry_delay_seconds} s"
        )
    else:
        row.state, row.message, row.ended_at = runs.TASK_FAILED, problem, stamp
        if task.retries:
            row.message = f"{problem} (attempt {row.attempt} of {task.retries + 1})"


def execute(ctx: ServiceContext, task_run_id: str, worker: str) -> bool:
    """Claim, run and record one task attempt. False if there was nothing to run."""
    taken = claim(ctx, task_run_id, worker)
    if taken is None:
        return False
    log.info("running task %s of run %s (attempt %d)", taken.task.name, taken.run_id, taken.attempt)
    started = time.monotonic()
    try:
        outcome = run_process(ctx, taken)
    except Exception as exc:  # a worker bug must not leave the task RUNNING until its lease
        log.exception("task %s of run %s crashed its worker", taken.task.name, taken.run_id)
        outcome = Outcome(None, "", f"the worker failed: {type(exc).__name__}: {exc}")
    measures.task_seconds.labels("failed" if outcome.problem else "succeeded").observe(
        time.monotonic() - started
    )
    finish(ctx, taken, outcome)
    ctx.wake_engine()
    return True
