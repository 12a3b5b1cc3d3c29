"""Run RQ workers for the project's queues, with the scheduler (and optionally cron).

python worker.py                 # all queues, delayed jobs included
python worker.py --cron          # also enqueue the periodic jobs of integration/schedule.py
python worker.py --burst         # work until the queues are empty, then exit

Beside each worker runs a scheduler process (integration/jobs/scheduler.py): one of them moves
delayed jobs to their queues, the others stand by and take over within seconds of its end.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys

from rq.cron import CronScheduler

from integration.app import create_app
from integration.jobs import QUEUES
from integration.jobs.runtime import HEARTBEAT_EVERY, current_runtime
from integration.jobs.scheduler import die_with_parent, serve
from integration.jobs.worker import AppWorker
from integration.schedule import PERIODIC


def _run_cron(redis_url: str) -> None:
    from integration.core.redis import connect  # noqa: PLC0415 - fresh connection after fork

    die_with_parent()
    scheduler = CronScheduler(connection=connect(redis_url), name="delegat-cron")
    for job in PERIODIC:
        scheduler.register(_resolve(job.func), queue_name=job.queue, interval=job.interval_seconds)
    scheduler.start()  # type: ignore[no-untyped-call]


def _run_scheduler(redis_url: str, queues: list[str], parent: int) -> None:
    from integration.core.redis import connect  # noqa: PLC0415 - fresh connection after fork

    die_with_parent()
    serve(connect(redis_url), queues, parent)


def _resolve(path: str):  # type: ignore[no-untyped-def]
    module, _, name = path.rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queues", nargs="*", default=list(QUEUES), choices=QUEUES)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--cron", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app()
    with app.app_context():
        runtime = current_runtime()
        redis = runtime.redis()
        queues = [runtime.queue(name) for name in args.queues]
    redis_url = app.extensions["delegat.settings"].redis_url
    helpers = []
    if args.cron:
        helpers.append(multiprocessing.Process(target=_run_cron, args=(redis_url,), daemon=True))
    if not args.burst:  # a burst worker schedules what is due once, as it starts
        helpers.append(
            multiprocessing.Process(
                target=_run_scheduler, args=(redis_url, args.queues, os.getpid()), daemon=True
            )
        )
    for helper in helpers:
        helper.start()
    try:
        worker = AppWorker(
            queues,
            connection=redis,
            app=app,
            maintenance_interval=60,
            job_monitoring_interval=HEARTBEAT_EVERY,
        )
        worker.work(with_scheduler=args.burst, burst=args.burst)
    finally:
        for helper in helpers:
            helper.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
