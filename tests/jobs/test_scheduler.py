"""Delayed jobs keep running when the worker whose scheduler held the queues' lock is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from redis import Redis
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler

from integration.core.db import db
from integration.core.settings import Settings
from integration.jobs import enqueue_after_commit, job_id
from tests.conftest import worker_env

LOCK = RQScheduler.get_locking_key("mail")


def _wait(predicate: Callable[[], object], timeout: float) -> object:
    """Poll ``predicate`` until it is truthy (its value) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return None


@pytest.fixture
def mail_worker(
    settings: Settings, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> Callable[[], subprocess.Popen[bytes]]:
    env = worker_env(settings, "http://127.0.0.1:9")
    return lambda: start_worker(env, "--queues", "mail")


def _holder(redis: Redis) -> str | None:
    raw = redis.get(LOCK)
    return raw.decode() if isinstance(raw, bytes) else raw


def test_a_standby_scheduler_takes_over_from_a_killed_worker_before_its_lock_lapses(
    app: Flask, redis: Redis, mail_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    first = mail_worker()
    dead = _wait(lambda: _holder(redis), 30)
    assert dead, "the first worker's scheduler never took the lock"
    mail_worker()  # stands by: the lock is held
    time.sleep(2)
    assert _holder(redis) == dead
    os.killpg(first.pid, signal.SIGKILL)  # the worker, its scheduler and any work horse
    first.wait(timeout=10)
    lapses_in = redis.ttl(LOCK)
    assert lapses_in > 30  # left alone, the dead scheduler's lock would hold this long
    killed_at = time.monotonic()
    with app.app_context():
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("after-kill", 1),
            queue="mail",
            delay=timedelta(seconds=1),
        )
        db.session.commit()

    def finished() -> bool:
        return Job.fetch("after-kill_1", connection=redis).get_status() == JobStatus.FINISHED

    assert _wait(finished, lapses_in), "the delayed job never ran"
    assert time.monotonic() - killed_at < lapses_in  # taken over, not waited out
    assert _holder(redis) not in (None, dead)


def test_a_restarted_worker_schedules_at_once_after_a_kill(
    app: Flask, redis: Redis, mail_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    first = mail_worker()
    dead = _wait(lambda: _holder(redis), 30)
    assert dead
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    lapses_in = redis.ttl(LOCK)
    with app.app_context():
        enqueue_after_commit(
            db.session,
            "integration.accounts.jobs.reconcile_welcome_emails",
            job_id=job_id("after-restart", 1),
            queue="mail",
            delay=timedelta(seconds=1),
        )
        db.session.commit()
    restarted_at = time.monotonic()
    mail_worker()  # a deploy, or the process manager restarting it

    def finished() -> bool:
        return Job.fetch("after-restart_1", connection=redis).get_status() == JobStatus.FINISHED

    assert _wait(finished, lapses_in), "the delayed job never ran"
    assert time.monotonic() - restarted_at < lapses_in
    assert _holder(redis) not in (None, dead)
