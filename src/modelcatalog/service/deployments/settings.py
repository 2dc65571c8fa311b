"""How deployment jobs, triggers and notifications run on this server."""

from __future__ import annotations

from dataclasses import dataclass

EMBEDDED = "embedded"
CELERY = "celery"
QUEUES = (EMBEDDED, CELERY)


@dataclass(frozen=True)
class JobSettings:
    """Validated once at start; every field has a CLI flag and an environment variable."""

    #: `embedded`: tasks run in worker threads of the server process; `celery`: tasks go to a
    #: Celery broker and run in `modelcatalog worker` processes, on this machine or others.
    queue: str = EMBEDDED
    #: How many tasks an embedded server runs at once (0: none, tasks wait for other workers).
    workers: int = 2
    #: The Celery broker (redis://… or amqp://…) when `queue` is celery.
    broker_url: str | None = None
    #: A running task that shows no sign of life for this long is taken for lost: its attempt
    #: fails and is retried if it has retries left.
    lease_seconds: float = 30.0
    #: How often the engine looks for work it was not woken for (other replicas' changes).
    poll_seconds: float = 1.0
    #: The URL tasks reach this catalog at (handed to them with their token).
    public_url: str = "http://127.0.0.1:8080"
    #: Webhooks to plain http:// URLs, and to private, loopback or link-local addresses, are
    #: refused unless allowed here.
    allow_http_webhooks: bool = False
    allow_private_webhooks: bool = False
    #: A failed notification is retried this many times in all, waiting base × 2^n between.
    delivery_attempts: int = 6
    delivery_backoff_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(
                f"the job queue is '{self.queue}'; expected one of {', '.join(QUEUES)}"
            )
        if self.queue == CELERY and not self.broker_url:
            raise ValueError("the celery job queue needs a broker URL (--broker-url)")
        if not 0 <= self.workers <= 64:
            raise ValueError(f"job workers is {self.workers}; expected 0 to 64")
        if not 1 <= self.lease_seconds <= 3600:
            raise ValueError(f"the task lease is {self.lease_seconds} s; expected 1 to 3600")
        if not 0.05 <= self.poll_seconds <= 60:
            raise ValueError(
                f"the engine poll interval is {self.poll_seconds} s; expected 0.05 to 60"
            )
        if not 1 <= self.delivery_attempts <= 20:
            raise ValueError(f"delivery attempts is {self.delivery_attempts}; expected 1 to 20")
        if not 0.01 <= self.delivery_backoff_seconds <= 3600:
            raise ValueError(
                f"the delivery backoff is {self.delivery_backoff_seconds} s; expected 0.01 to 3600"
            )
