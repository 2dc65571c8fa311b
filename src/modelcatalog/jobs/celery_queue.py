"""Deployment tasks through a Celery broker (Redis or RabbitMQ), run by `modelcatalog worker`
processes on this machine or others.

The server's engine marks a task SUBMITTED and sends its id, by task name, to the queue
`modelcatalog-tasks`; a worker runs `worker.execute` on it, exactly as an embedded worker thread
would. Everything a task needs is in the database, so a message carries only the task run's id.

Delivery is at least once (a message is acknowledged after the task, and a worker that dies
leaves it to be delivered again), and a duplicate is harmless: `worker.claim` takes a task with
a conditional update, so a second delivery of a task that is running or finished claims nothing
and is acknowledged. A task whose worker died mid-run is taken for lost by the engine when its
heartbeat is older than the lease, and retried (a new message) or failed with the reason."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from celery import Celery, bootsteps
from kombu import Queue
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import select, update

from modelcatalog.jobs import worker
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount

log = logging.getLogger("modelcatalog.jobs")

TASK_NAME = "modelcatalog.execute_task"
QUEUE = "modelcatalog-tasks"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")
#: How a send to an unreachable broker is retried before the engine's tick gives up on it (the
#: task stays SUBMITTED and the engine queues it again later).
SEND_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}


def check_broker_url(url: str) -> str:
    """The broker URL if Celery can use it here (Redis or RabbitMQ); ValueError otherwise."""
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in BROKER_SCHEMES or "://" not in url:
        raise ValueError(
            f"the broker URL {maybe_sanitize_url(url)!r} is not a Redis or RabbitMQ URL; expected "
            "redis://host:6379/0 or amqp://user:password@host:5672/vhost (rediss:// and "
            "amqps:// for TLS)"
        )
    return url.strip()


def make_app(broker_url: str, ctx: ServiceContext | None = None) -> Celery:
    """A Celery application for the broker, configured the same way in servers and workers.

    A worker gives the service context its tasks run with; a server only sends tasks."""
    app = Celery("modelcatalog", broker=check_broker_url(broker_url), set_as_current=False)
    app.conf.update(
        task_queues=[Queue(QUEUE)],
        task_default_queue=QUEUE,
        # JSON only: a pickled message from whoever can write to the broker would run code.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        # Acknowledge after the task: a worker that dies mid-task leaves its message to be
        # delivered again (RabbitMQ at once, Redis after its visibility timeout) instead of
        # losing it; the conditional claim makes that second delivery harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per slot: a busy worker does not hold tasks an idle one could run.
        worker_prefetch_multiplier=1,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    if ctx is not None:

        @app.task(name=TASK_NAME, bind=True, ignore_result=True)
        def execute_task(task, task_run_id: str) -> bool:  # type: ignore[no-untyped-def]
            return _execute_task(ctx, task, task_run_id)

        app.steps["worker"].add(PromptStop)
    return app


class PromptStop(bootsteps.StartStopStep):
    """Wakes a worker's event loop every second, so that a stop request (SIGTERM) ends it
    within a second. An idle worker on RabbitMQ otherwise sleeps until its next timer, up to
    ten seconds, before it sees the request (Redis wakes it every second by itself)."""

    requires = ("celery.worker.components:Hub",)

    def include_if(self, w) -> bool:  # type: ignore[no-untyped-def]
        return bool(w.use_eventloop)

    def start(self, w) -> None:  # type: ignore[no-untyped-def]
        w.hub.call_repeatedly(1.0, _awake)


def _awake() -> None:
    """Nothing: the event loop, woken for this, checks whether it should stop."""


class CeleryQueue:
    """The engine's TaskQueue over a broker: it takes every task, the broker holds them."""

    def __init__(self, broker_url: str) -> None:
        self._app = make_app(broker_url)

    def free_slots(self) -> int | None:
        return None

    def submit(self, task_run_id: str) -> None:
        _send(self._app, task_run_id)

    def close(self) -> None:
        self._app.close()


def _send(app: Celery, task_run_id: str) -> None:
    app.send_task(TASK_NAME, args=[task_run_id], queue=QUEUE, retry=True, retry_policy=SEND_RETRY)


def _execute_task(ctx: ServiceContext, task, task_run_id: str) -> bool:  # type: ignore[no-untyped-def]
    """Run one attempt of a task run, then hand its run's next tasks straight to the broker."""
    name = task.request.hostname or f"celery-{os.getpid()}"
    ran = worker.execute(ctx, task_run_id, name)
    if ran:
        try:
            _submit_next(ctx, task.app, task_run_id, name)
        except Exception:  # the server's engine sends them at its next poll anyway
            log.exception("could not hand on the tasks after task run %s", task_run_id)
    return ran


def _submit_next(ctx: ServiceContext, app: Celery, task_run_id: str, name: str) -> int:
    """Send the tasks this one's outcome queued (in its run) without waiting for the engine.

    The engine is in another process and polls; without this each step of a run would wait up
    to a poll interval. The same conditional QUEUED → SUBMITTED update as the engine's
    `submit_queued` decides who sends a task, so the two never both send it."""
    stamp = now_ms()
    with ctx.db.read() as session:
        run_id = session.scalar(select(t.TaskRun.run_id).where(t.TaskRun.id == task_run_id))
        due = list(
            session.scalars(
                select(t.TaskRun.id).where(
                    t.TaskRun.run_id == run_id,
                    t.TaskRun.state == runs.QUEUED,
                    t.TaskRun.not_before <= stamp,
                )
            )
        )
    sent = 0
    for next_id in due:
        with ctx.db.write() as session:
            taken = rowcount(
                session.execute(
                    update(t.TaskRun)
                    .where(t.TaskRun.id == next_id, t.TaskRun.state == runs.QUEUED)
                    .values(state=runs.SUBMITTED, worker=name, heartbeat_at=stamp)
                )
            )
        if taken:
            _send(app, next_id)
            sent += 1
    return sent
