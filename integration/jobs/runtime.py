"""Enqueueing that respects the database transaction.

A job is handed to Redis only after the transaction that recorded its intent commits; a
rolled-back transaction enqueues nothing. Job ids are deterministic, so a reconciler can
re-enqueue the same work without duplicating it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUES = ("default", "mail", "ksef")
_PENDING_KEY = "delegat.pending_jobs"
_EXTENSION_KEY = "delegat.jobs"


_JOB_ID_PART = re.compile(r"[A-Za-z0-9-]+")


def job_id(kind: str, *parts: object) -> str:
    """A deterministic job id, e.g. ``job_id("welcome-email", 42) == "welcome-email_42"``.

    Parts may hold letters, digits and dashes; ``_`` separates them, so ids cannot collide.
    """
    pieces = [kind, *(str(p) for p in parts)]
    for piece in pieces:
        if not _JOB_ID_PART.fullmatch(piece):
            raise ValueError(f"job id part {piece!r} may hold only letters, digits and dashes")
    return "_".join(pieces)


@dataclass(frozen=True)
class PendingJob:
    func: str
    queue: str
    job_id: str
    kwargs: dict[str, Any]
    delay: timedelta | None = None


@dataclass
class JobRuntime:
    """The Redis connection and queues of one application."""

    connection: Redis | None
    is_async: bool = True
    _queues: dict[str, Queue] = field(default_factory=dict)

    def redis(self) -> Redis:
        if self.connection is None:
            raise RuntimeError("no Redis configured: set DELEGAT_REDIS_URL or use the launcher")
        return self.connection

    def queue(self, name: str) -> Queue:
        if name not in QUEUES:
            raise ValueError(f"unknown queue {name!r}")
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.redis(), is_async=self.is_async)
        return self._queues[name]

    def enqueue_now(self, pending: PendingJob) -> Job | None:
        """Enqueue unless a job with the same id is still waiting or running."""
        q = self.queue(pending.queue)
        redis = self.redis()
        existing = (
            Job.fetch(pending.job_id, connection=redis)
            if Job.exists(pending.job_id, connection=redis)
            else None
        )
        if existing is not None:
            status = existing.get_status(refresh=True)
            waiting = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
            if status in waiting or (status == JobStatus.STARTED and not _abandoned(existing)):
                log.debug("job %s already %s", pending.job_id, status)
                return None
            if status == JobStatus.STARTED:
                log.warning("job %s was abandoned by its worker; enqueued again", pending.job_id)
            existing.delete()
        try:
            if pending.delay:
                return q.enqueue_in(
                    pending.delay, pending.func, job_id=pending.job_id, kwargs=pending.kwargs
                )
            return q.enqueue(
                pending.func, job_id=pending.job_id, kwargs=pending.kwargs, unique=True
            )
        except DuplicateJobError:
            return None


@contextmanager
def exclusive(name: str, ttl: timedelta = timedelta(seconds=45)) -> Iterator[bool]:
    """Hold a Redis lock named ``name`` (True) or learn it is held elsewhere (False).

    A lock only spares duplicate work; what must happen once is guarded by the database.
    While the block runs the lock is renewed every third of ``ttl``; a holder that dies (kill
    -9 included) frees it within ``ttl``.
    """
    lock = (
        current_runtime()
        .redis()
        .lock(
            f"delegat:lock:{name}",
            timeout=ttl.total_seconds(),
            blocking=False,
            thread_local=False,  # renewed from a thread of its own
        )
    )
    mine = bool(lock.acquire())
    done = threading.Event()

    def renew() -> None:
        while not done.wait(ttl.total_seconds() / 3):
            try:
                lock.reacquire()
            except (LockError, RedisError) as exc:  # lost it, or Redis is away: it lapses
                log.warning("lock %s not renewed: %s", name, exc)
                return

    renewer = threading.Thread(target=renew, name=f"lock {name}", daemon=True)
    if mine:
        renewer.start()
    try:
        yield mine
    finally:
        done.set()
        if mine:
            renewer.join()
            with suppress(LockError, RedisError):
                lock.release()


# A running job's worker beats its heart every 10 s (worker.py); three missed beats and it is
# gone.
HEARTBEAT_EVERY = 10
ABANDONED_AFTER = timedelta(seconds=3 * HEARTBEAT_EVERY + 5)


def _abandoned(job: Job) -> bool:
    """Whether a job said to be running lost its worker (killed, its machine gone)."""
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return datetime.now(UTC) - beat > ABANDONED_AFTER


def current_runtime() -> JobRuntime:
    runtime = current_app.extensions[_EXTENSION_KEY]
    assert isinstance(runtime, JobRuntime)
    return runtime


def register_runtime(extensions: dict[str, Any], runtime: JobRuntime) -> None:
    extensions[_EXTENSION_KEY] = runtime


def enqueue_after_commit(
    session: Session,
    func: Callable[..., Any] | str,
    *,
    job_id: str,
    queue: str = "default",
    delay: timedelta | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue ``func(**kwargs)`` once ``session`` commits; forget it if it rolls back.

    ``kwargs`` must be plain ids and values: a job signature is a wire contract.
    """
    name = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    session.info.setdefault(_PENDING_KEY, []).append(
        PendingJob(func=name, queue=queue, job_id=job_id, kwargs=dict(kwargs), delay=delay)
    )


def _after_commit(session: Session) -> None:
    pending: list[PendingJob] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    runtime = current_runtime()
    for job in pending:
        try:
            runtime.enqueue_now(job)
        except Exception:
            # The intent is in the database; the reconciler will enqueue it again.
            log.exception("could not enqueue %s; the reconciler will retry", job.job_id)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


_installed = False


def install_commit_hooks() -> None:
    """Listen to commits and rollbacks of every ORM session (idempotent)."""
    global _installed  # noqa: PLW0603 - listeners are process-wide by nature
    if _installed:
        return
    sa.event.listen(Session, "after_commit", _after_commit)
    sa.event.listen(Session, "after_rollback", _after_rollback)
    _installed = True
