"""The job engine: one thread in each server process that moves everything forward.

Each tick it hands new model events to triggers and notifications, fires due triggers, recovers
tasks whose worker was lost, hands queued tasks to workers and sends due notifications. All of
its state is in the database, so a restarted (or another) replica carries on where one stopped;
every step claims its rows with conditional updates, so replicas never do one thing twice."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import bindparam, delete, select, update

from modelcatalog.domain import events as ev
from modelcatalog.jobs import deliveries, trigger_batches, worker
from modelcatalog.service import events, notifications
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.definition import JobDefinition
from modelcatalog.service.deployments.settings import CELERY
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount

log = logging.getLogger("modelcatalog.jobs")

EVENT_BATCH = 200
#: Dispatched model events are kept this long (for triggers still batching them, and to read).
EVENT_RETENTION_MS = 7 * 24 * 3600 * 1000
PRUNE_EVERY_SECONDS = 3600.0
#: Which job-definition notification list each run event goes to.
NOTIFY_ON = {
    ev.RUN_STARTED: "on_start",
    ev.RUN_SUCCEEDED: "on_success",
    ev.RUN_FAILED: "on_failure",
    ev.APPROVAL_REQUESTED: "on_approval_requested",
    ev.APPROVED: "on_approved",
    ev.REJECTED: "on_rejected",
}


class TaskQueue(Protocol):
    """Where queued tasks go to be run."""

    def free_slots(self) -> int | None:
        """How many more tasks it takes now (None: no limit, a broker queues them)."""

    def submit(self, task_run_id: str) -> None: ...

    def close(self) -> None: ...


class EmbeddedQueue:
    """Worker threads inside the server process (the default)."""

    def __init__(self, ctx: ServiceContext, workers: int, name: str) -> None:
        self._ctx = ctx
        self._name = name
        self._workers = workers
        self._busy = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="task")
        self._closed = False

    def free_slots(self) -> int | None:
        return self._workers - self._busy

    def submit(self, task_run_id: str) -> None:
        with self._lock:
            self._busy += 1
        self._pool.submit(self._run, task_run_id)

    def _run(self, task_run_id: str) -> None:
        current: str | None = task_run_id
        try:
            while current is not None and not self._closed:
                worker.execute(self._ctx, current, self._name)
                # The freed slot takes the next due task itself rather than wait for the
                # engine's next tick; the claim is conditional, so two slots never run one task.
                current = next(iter(due_tasks(self._ctx, 1)), None)
        except Exception:
            log.exception("task run %s could not be executed", current)
        finally:
            with self._lock:
                self._busy -= 1
            self._ctx.wake_engine()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


class Wakeup:
    """The context's waker in a process that runs the engine: made before the context, so that
    the context is whole when built, and waited on by the engine's two threads."""

    def __init__(self) -> None:
        self.tasks = threading.Event()
        self.deliveries = threading.Event()

    def wake(self) -> None:
        self.tasks.set()
        self.deliveries.set()


class JobEngine:
    """Runs `tick` every `poll_seconds`, and at once when woken. Notifications are sent by a
    thread of their own, so that a slow receiver never holds up the tasks."""

    def __init__(self, ctx: ServiceContext, wakeup: Wakeup, queue: TaskQueue | None = None) -> None:
        self.ctx = ctx
        self.name = f"engine-{uuid.uuid4().hex[:12]}"
        self.queue = queue or EmbeddedQueue(ctx, ctx.jobs.workers, self.name)
        self._stopped = threading.Event()
        self._wakeup = wakeup
        self._threads = [
            threading.Thread(
                target=self._loop, args=(self.tick, wakeup.tasks), name="job-engine", daemon=True
            ),
            threading.Thread(
                target=self._loop,
                args=(self._deliver, wakeup.deliveries),
                name="notification-sender",
                daemon=True,
            ),
        ]
        self._pruned_at = 0.0

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wakeup.wake()  # out of their waits, to see that they are stopped
        for thread in self._threads:
            thread.join(timeout=10)
        self.queue.close()

    def _loop(self, step: Callable[[], bool], woken: threading.Event) -> None:
        while not self._stopped.is_set():
            woken.clear()
            try:
                busy = step()
            except Exception:
                log.exception("the job engine's %s failed; retrying", step.__name__)
                busy = False
            if not busy:
                woken.wait(self.ctx.jobs.poll_seconds)

    def _deliver(self) -> bool:
        return deliveries.deliver_due(self.ctx) >= deliveries.BATCH

    def tick(self) -> bool:
        """One round of work; True if there may be more right away."""
        # Tasks first: a queued task waits for nothing else, while events may come in hundreds.
        self._recover(self.ctx)
        self._submit(self.ctx)
        more = dispatch_events(self.ctx) >= EVENT_BATCH
        trigger_batches.fire_due(self.ctx)
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            prune_events(self.ctx)
            self._pruned_at = time.monotonic()
        return more

    def _recover(self, ctx: ServiceContext) -> int:
        return recover_lost_tasks(ctx, resubmit_after=self._resubmit_after())

    def _resubmit_after(self) -> float:
        # A broker may hold a task for long under load; only an embedded hand-over is quick.
        lease = self.ctx.jobs.lease_seconds
        return max(lease * 10, 300.0) if self.ctx.jobs.queue == CELERY else lease

    def _submit(self, ctx: ServiceContext) -> int:
        return submit_queued(ctx, self.queue, self.name)


_events = t.table_of(t.ModelEvent)
# Built once: the engine runs them on every tick.
_UNDISPATCHED = (
    select(_events.c.seq)
    .where(_events.c.dispatched.is_(False))
    .order_by(_events.c.seq)
    .limit(EVENT_BATCH)
)
_CLAIM = (
    _events.update()
    .where(_events.c.seq.in_(bindparam("seqs", expanding=True)), _events.c.dispatched.is_(False))
    .values(dispatched=True)
    .returning(*_events.c)
)


def dispatch_events(ctx: ServiceContext) -> int:
    """Hand new model events, in order, to triggers and to job-definition notifications."""
    with ctx.db.read() as session:
        seqs = list(session.connection().scalars(_UNDISPATCHED))
    if not seqs:
        return 0
    # One transaction for the batch: the claim names the rows this replica won (another may win
    # some), and what they cause commits with the claim or not at all.
    with ctx.db.write() as session:
        claimed = session.connection().execute(_CLAIM, {"seqs": seqs}).all()
        batch = [events.ModelEvent.of(row) for row in sorted(claimed, key=lambda r: r.seq)]
        trigger_batches.collect(session, batch)
        for event in batch:
            _notify_from_definition(session, event)
    if claimed:
        ctx.wake_engine()
    return len(seqs)


def prune_events(ctx: ServiceContext) -> int:
    """Forget dispatched model events older than the retention that no trigger batch holds."""
    with ctx.db.write() as session:
        return rowcount(
            session.execute(
                delete(t.ModelEvent).where(
                    t.ModelEvent.dispatched.is_(True),
                    t.ModelEvent.at < now_ms() - EVENT_RETENTION_MS,
                    t.ModelEvent.seq.not_in(select(t.TriggerChange.event_seq)),
                )
            )
        )


def _notify_from_definition(session, event: events.ModelEvent) -> None:  # type: ignore[no-untyped-def]
    key = NOTIFY_ON.get(event.kind)
    run_id = event.details.get("run_id")
    if key is None or not run_id:
        return
    run = session.get(t.JobRun, run_id)
    if run is None:
        return
    definition = JobDefinition.from_json(run.definition)
    names = set(definition.notifications.get(key, ()))
    task_name = event.details.get("task")
    if task_name:
        task = next((x for x in definition.tasks if x.name == task_name), None)
        if task is not None:
            names |= set(task.notifications.get(key, ()))
    if names:
        notifications.enqueue(session, sorted(names), event.kind, event.payload())


def due_tasks(ctx: ServiceContext, limit: int) -> list[str]:
    """QUEUED tasks whose time has come, longest waiting first."""
    with ctx.db.read() as session:
        return list(
            session.scalars(
                select(t.TaskRun.id)
                .where(t.TaskRun.state == runs.QUEUED, t.TaskRun.not_before <= now_ms())
                .order_by(t.TaskRun.not_before)
                .limit(limit)
            )
        )


def submit_queued(ctx: ServiceContext, queue: TaskQueue, engine: str) -> int:
    """Hand due QUEUED tasks to the queue, as many as it takes; mark them SUBMITTED."""
    free = queue.free_slots()
    if free is not None and free <= 0:
        return 0
    stamp = now_ms()
    submitted = 0
    for task_run_id in due_tasks(ctx, free if free is not None else 500):
        with ctx.db.write() as session:
            taken = rowcount(
                session.execute(
                    update(t.TaskRun)
                    .where(t.TaskRun.id == task_run_id, t.TaskRun.state == runs.QUEUED)
                    .values(state=runs.SUBMITTED, worker=engine, heartbeat_at=stamp)
                )
            )
        if taken:
            # Sent after the mark commits: a crash in between leaves it SUBMITTED, and recovery
            # queues it again; a duplicate delivery is harmless (claims are conditional).
            queue.submit(task_run_id)
            submitted += 1
    return submitted


def recover_lost_tasks(ctx: ServiceContext, *, resubmit_after: float) -> int:
    """Fail (or retry) attempts whose worker stopped sending heartbeats, and queue again tasks
    handed to a queue that never started them."""
    stamp = now_ms()
    lost_before = stamp - int(ctx.jobs.lease_seconds * 1000)
    with ctx.db.read() as session:
        lost = list(
            session.scalars(
                select(t.TaskRun.id).where(
                    t.TaskRun.state == runs.TASK_RUNNING, t.TaskRun.heartbeat_at < lost_before
                )
            )
        )
    recovered = 0
    for task_run_id in lost:
        with ctx.db.write() as session:
            row = session.get(t.TaskRun, task_run_id)
            if (
                row is None
                or row.state != runs.TASK_RUNNING
                or row.heartbeat_at is None  # never beat: not lost, as the query says
                or row.heartbeat_at >= lost_before
            ):
                continue
            run = session.get(t.JobRun, row.run_id)
            if run is None:  # deleted with its run since the query
                continue
            task = JobDefinition.from_json(run.definition).task(row.task_name)
            problem = (
                f"was lost: its worker ({row.worker}) stopped answering (its process ended or "
                "lost the database)"
            )
            attempt = session.get(t.TaskAttempt, (row.id, row.attempt))
            token_id = None
            if attempt is not None:
                attempt.ended_at, attempt.message = stamp, problem
                token_id = attempt.token_id
            if token_id is not None:
                session.execute(
                    update(t.Token)
                    .where(t.Token.id == token_id, t.Token.revoked_at.is_(None))
                    .values(revoked_at=stamp)
                )
            worker.settle_attempt(row, task, None, row.output, problem, stamp)
            runs.advance(session, run)
        if token_id is not None:
            ctx.tokens.forget(token_id)
        recovered += 1
        log.warning("task %s of run %s %s", task.name, run.id, problem)
    resubmit_before = stamp - int(resubmit_after * 1000)
    with ctx.db.write() as session:
        recovered += rowcount(
            session.execute(
                update(t.TaskRun)
                .where(t.TaskRun.state == runs.SUBMITTED, t.TaskRun.heartbeat_at < resubmit_before)
                .values(state=runs.QUEUED, worker=None)
            )
        )
    if recovered:
        ctx.wake_engine()
    return recovered


def task_queue_factory(ctx: ServiceContext) -> Callable[[], TaskQueue] | None:
    """The queue the settings ask for: None for the embedded worker threads."""
    if ctx.jobs.queue != CELERY:
        return None
    # Deferred: Celery loads only in servers that send tasks through a broker.
    from modelcatalog.jobs.celery_queue import CeleryQueue

    return lambda: CeleryQueue(ctx.jobs.broker_url or "")


def start_engine(
    ctx: ServiceContext, wakeup: Wakeup, queue_factory: Callable[[], TaskQueue] | None = None
) -> JobEngine:
    """Start the engine for this process; `wakeup` is the context's waker."""
    engine = JobEngine(ctx, wakeup, queue_factory() if queue_factory else None)
    engine.start()
    return engine
