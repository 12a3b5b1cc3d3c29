"""Run RQ workers for the project's queues, with the scheduler (and optionally cron).

python worker.py                 # all queues, delayed jobs included
python worker.py --cron          # also enqueue the periodic jobs of integration/schedule.py
python worker.py --burst         # work until the queues are empty, then exit
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys

from rq.cron import CronScheduler

from integration.app import create_app
from integration.jobs import QUEUES
from integration.jobs.runtime import current_runtime
from integration.jobs.worker import AppWorker
from integration.schedule import PERIODIC


def _run_cron(redis_url: str) -> None:
    from integration.core.redis import connect  # noqa: PLC0415 - fresh connection after fork

    scheduler = CronScheduler(connection=connect(redis_url), name="delegat-cron")
    for job in PERIODIC:
        scheduler.register(_resolve(job.func), queue_name=job.queue, interval=job.interval_seconds)
    scheduler.start()  # type: ignore[no-untyped-call]


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
    cron = None
    if args.cron:
        redis_url = app.extensions["delegat.settings"].redis_url
        cron = multiprocessing.Process(target=_run_cron, args=(redis_url,), daemon=True)
        cron.start()
    try:
        worker = AppWorker(queues, connection=redis, app=app)
        worker.work(with_scheduler=True, burst=args.burst)
    finally:
        if cron is not None:
            cron.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
