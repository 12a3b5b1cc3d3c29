"""The scheduler that moves delayed jobs to their queues when they fall due.

Every worker process runs one beside it; one of them holds the queues' locks and schedules,
the others stand by. RQ's own scheduler tries for a lock once every maintenance round (ten
minutes) and a killed holder keeps its lock for a minute after, so after a crash delayed work
(checks, reschedules, follow-ups) could stall for ten minutes. Ours tries every few seconds
and takes a lock over from a holder that stopped beating.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import SchedulerNotFound
from rq.scheduler import RQScheduler
from rq.utils import now

log = logging.getLogger(__name__)

RETRY_EVERY = 5.0  # seconds between tries for the locks a standby lacks
SILENT_AFTER = 15.0  # a holder beats every second; this long without a beat, it is gone

_RELEASE_IF_HELD_BY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class StandbyScheduler(RQScheduler):
    """RQ's scheduler, but quick to take the queues over when their scheduler is gone."""

    @property
    def should_reacquire_locks(self) -> bool:
        if self._queue_names == self.acquired_locks:
            return False
        if self.lock_acquisition_time is None:
            return True
        since = datetime.now() - self.lock_acquisition_time  # noqa: DTZ005 - RQ's naive stamp
        return since.total_seconds() > RETRY_EVERY

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        for name in self._queue_names - self.acquired_locks:
            self._free_if_silent(self.get_locking_key(name))
        return super().acquire_locks(auto_start=auto_start)  # type: ignore[no-untyped-call, no-any-return]

    def _free_if_silent(self, key: str) -> None:
        """Delete the lock ``key`` if the scheduler holding it no longer beats."""
        raw = self.connection.get(key)
        if raw is None:
            return
        holder = raw.decode() if isinstance(raw, bytes) else str(raw)
        if holder == self.name:
            return
        try:
            beat = RQScheduler.fetch(holder, self.connection).last_heartbeat
        except SchedulerNotFound:
            beat = None
        if beat is not None and (now() - beat).total_seconds() <= SILENT_AFTER:
            return
        if self.connection.eval(_RELEASE_IF_HELD_BY, 1, key, holder):
            log.warning("scheduler %s stopped beating; its lock %s is taken over", holder, key)


def die_with_parent() -> None:
    """Ask Linux to stop this process when the process that started it dies (kill -9 too)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def serve(connection: Redis, queues: list[str], parent: int | None = None) -> None:
    """Schedule (or stand by to schedule) ``queues`` until stopped or ``parent`` is gone."""
    scheduler = StandbyScheduler(queues, connection=connection, interval=1)
    stop: list[bool] = []

    def request_stop(*_: Any) -> None:
        stop.append(True)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scheduler.register_birth()
    try:
        while not stop and (parent is None or os.getppid() == parent):
            try:
                if scheduler.should_reacquire_locks:
                    scheduler.acquire_locks()
                scheduler.heartbeat()  # type: ignore[no-untyped-call]
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
            except RedisError as exc:  # Redis restarted or away: the locks are tried anew
                log.warning("scheduler: %s", exc)
                scheduler._acquired_locks = set()
                scheduler.lock_acquisition_time = None
            time.sleep(scheduler.interval)
    finally:
        try:
            scheduler.stop()  # type: ignore[no-untyped-call]
        except RedisError:
            log.warning("scheduler: locks not released; they lapse by themselves")
