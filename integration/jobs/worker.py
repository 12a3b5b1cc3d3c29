"""RQ workers that run each job inside a Flask application context."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

from integration.core.db import db


class _AppContextMixin:
    app: Flask

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        with self.app.app_context():
            try:
                return super().perform_job(job, queue, execution)  # type: ignore[misc, no-any-return]
            finally:
                db.session.remove()


class AppWorker(_AppContextMixin, Worker):
    """Forks a work horse per job; the horse drops pooled connections inherited from us."""

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        with self.app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        super().main_work_horse(job, queue)


class AppSimpleWorker(_AppContextMixin, SimpleWorker):
    """Runs jobs in its own process (tests, and the embedded single-process setup)."""

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)
