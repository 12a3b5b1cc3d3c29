"""The periodic table names jobs that exist and that the cron scheduler can enqueue."""

from __future__ import annotations

import importlib
import inspect

from integration.jobs import QUEUES
from integration.schedule import PERIODIC


def test_every_periodic_job_resolves_to_a_function_without_required_arguments() -> None:
    for job in PERIODIC:
        module, _, name = job.func.rpartition(".")
        func = getattr(importlib.import_module(module), name)
        required = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        assert required == [], job.func
        assert job.queue in QUEUES
        assert job.interval_seconds > 0


def test_licence_deadlines_invoice_work_and_grant_mirroring_are_scheduled() -> None:
    names = {job.func.rsplit(".", 1)[1] for job in PERIODIC}
    assert {
        "apply_licence_deadlines",
        "reconcile_invoices",
        "sync_all_costs",
        "pull_all_grants",
    } <= names
