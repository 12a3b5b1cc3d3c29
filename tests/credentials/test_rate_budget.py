"""The shared per-context rate budget in Redis, and workers that respect it."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, request
from redis import Redis
from rq import Queue
from rq.registry import FinishedJobRegistry, ScheduledJobRegistry
from werkzeug.serving import make_server

from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany
from integration.core.db import db
from integration.core.settings import Settings
from integration.credentials.service import store_ksef_token
from integration.jobs import enqueue_after_commit, job_id
from integration.ksef.budget import RECOVER_FOR, RateBudget, group_of
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.limits import PRODUCTION
from tests.conftest import World, run_workers, worker_env


def test_budget_grants_up_to_the_limit_then_names_the_wait(redis: Redis) -> None:
    budget = RateBudget(redis, {"other": (2, 2, 100)})
    assert budget.take("1234563218", "other") == 0.0
    assert budget.take("1234563218", "other") == 0.0
    wait = budget.take("1234563218", "other")
    assert 60.0 < wait <= 61.0  # the minute window (held a second longer) is the binding one
    assert budget.take("5260250274", "other") == 0.0  # other contexts are independent


def _grants(budget: RateBudget, redis: Redis, context: str, calls: int) -> int:
    """How many of ``calls`` calls in a row the budget lets through (windows emptied first)."""
    redis.delete(*(f"delegat:ksef-budget:{context}:other:{w}" for w in ("1s", "1m", "1h")))
    return sum(budget.take(context, "other") == 0.0 for _ in range(calls))


def test_a_429_blocks_the_group_then_the_budget_grows_back_from_half(redis: Redis) -> None:
    context = "1234563218"
    budget = RateBudget(redis, {"other": (8, 8, 100)})
    budget.penalise(context, "other", retry_after=5)
    assert 3.0 < budget.take(context, "other") <= 5.0  # blocked for Retry-After
    redis.delete(f"delegat:ksef-budget:{context}:other:blocked")
    assert _grants(budget, redis, context, 8) == 4  # half, just after the 429
    seconds, micros = redis.time()
    now_ms = seconds * 1000 + micros // 1000
    penalised = f"delegat:ksef-budget:{context}:penalised"
    redis.set(penalised, now_ms - RECOVER_FOR * 1000 // 2, keepttl=True)
    assert _grants(budget, redis, context, 8) == 6  # half way back
    redis.set(penalised, now_ms - RECOVER_FOR * 1000, keepttl=True)
    assert _grants(budget, redis, context, 8) == 8  # whole again
    assert 0 < redis.ttl(penalised) <= RECOVER_FOR  # and forgotten after


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/sessions/online", "onlineSession"),
        ("POST", "/sessions/online/REF/close", "onlineSession"),
        ("GET", "/sessions/REF/invoices/ksef/NUM/upo", "sessionMisc"),
        ("POST", "/sessions/online/REF/invoices", "invoiceSend"),
        ("GET", "/sessions", "sessionList"),
        ("GET", "/sessions/REF/invoices/INV", "invoiceStatus"),
        ("GET", "/sessions/REF/invoices/failed", "sessionInvoiceList"),
        ("GET", "/sessions/REF/upo/U", "sessionMisc"),
        ("POST", "/invoices/query/metadata", "invoiceMetadata"),
        ("GET", "/invoices/exports/REF", "invoiceExportStatus"),
        ("GET", "/invoices/ksef/NUM", "invoiceDownload"),
        ("GET", "/tokens", "other"),
    ],
)
def test_calls_are_counted_in_the_right_group(method: str, path: str, group: str) -> None:
    assert group_of(method, path) == group


@pytest.fixture
def live_sandbox(tmp_path: Path) -> Iterator[tuple[Flask, str, list[int]]]:
    app = create_sandbox_app(
        SandboxConfig(
            database_url=f"sqlite:///{tmp_path / 'k.db'}", token_activation_delay=dt.timedelta(0)
        )
    )
    statuses: list[int] = []

    @app.after_request
    def _count(response: Response) -> Response:
        if request.path.startswith("/v2/sessions"):
            statuses.append(response.status_code)
        return response

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", statuses
    server.shutdown()


def test_two_workers_stay_within_the_budget_and_no_429_reaches_a_job(
    app: Flask,
    settings: Settings,
    make_app: Callable[..., Flask],
    make_world: Callable[..., World],
    redis: Redis,
    live_sandbox: tuple[Flask, str, list[int]],
) -> None:
    sandbox, url, statuses = live_sandbox
    w = make_world()
    service = make_app(settings.replace(ksef_base_url=f"{url}/v2"))
    with service.app_context():
        client = db.session.get(ClientCompany, w.client_ids[0])
        assert client is not None
        nip = client.nip
    _, secret = make_token(sandbox.extensions["ksef_sandbox.store"], nip, ["InvoiceWrite"])
    limits = dict(PRODUCTION)
    limits["sessionList"] = (2, 1000, 1000)
    sandbox.extensions["ksef_sandbox.limiter"].overrides[nip] = limits
    chains = 8
    with service.app_context():
        store_ksef_token(Actor(is_platform_admin=True), w.client_ids[0], secret)
        for n in range(chains):
            enqueue_after_commit(
                db.session,
                "integration.credentials.jobs.check_connection",
                job_id=job_id("ksef-check", w.client_ids[0], f"n{n}", 0),
                queue="ksef",
                client_id=w.client_ids[0],
                chain=f"n{n}",
            )
        db.session.commit()

    env = worker_env(settings, url)
    queue = Queue("ksef", connection=redis)
    deadline = time.monotonic() + 90
    while queue.count or ScheduledJobRegistry(queue=queue).count:
        assert time.monotonic() < deadline, "jobs did not finish"
        run_workers(env, timeout=60)
        time.sleep(0.2)

    finished = FinishedJobRegistry(queue=queue)
    results = [queue.fetch_job(jid).return_value() for jid in finished.get_job_ids()]  # type: ignore[union-attr]
    assert results.count("ok") == chains
    assert "rate-limited" not in results
    assert results.count("rescheduled") >= 1  # the budget made some jobs wait
    assert 429 not in statuses
    assert statuses.count(200) == chains
    cached = json.loads(redis.get(f"delegat:ksef-limits:{nip}") or b"{}")
    assert cached["sessionList"] == [2, 1000, 1000]  # the budget used KSeF's own limits


def test_a_429_that_still_happens_is_honoured_and_tightens_the_budget(
    app: Flask,
    ksef_sandbox: Flask,
    make_world: Callable[..., World],
    redis: Redis,
    run_jobs: Callable[[], int],
) -> None:
    w = make_world()
    with app.app_context():
        client = db.session.get(ClientCompany, w.client_ids[0])
        assert client is not None
        nip = client.nip
    _, secret = make_token(ksef_sandbox.extensions["ksef_sandbox.store"], nip, ["InvoiceWrite"])
    limiter = ksef_sandbox.extensions["ksef_sandbox.limiter"]
    limits = dict(PRODUCTION)
    # KSeF is stricter than what we were told: one a minute (a minute's Retry-After outlasts
    # any slowness of the machine between the 429 and the checks below)
    limits["sessionList"] = (50, 1, 50)
    with app.app_context():
        store_ksef_token(Actor(is_platform_admin=True), w.client_ids[0], secret)
    redis.set(
        f"delegat:ksef-limits:{nip}",
        json.dumps({"sessionList": [50, 50, 50], "other": [50, 50, 50]}),
    )
    limiter.overrides[nip] = limits
    try:
        with app.app_context():
            for n in range(2):
                enqueue_after_commit(
                    db.session,
                    "integration.credentials.jobs.check_connection",
                    job_id=job_id("ksef-check", w.client_ids[0], f"x{n}", 0),
                    queue="ksef",
                    client_id=w.client_ids[0],
                    chain=f"x{n}",
                )
            db.session.commit()
        run_jobs()
    finally:
        limiter.overrides.pop(nip, None)
        limiter.reset()
    queue = Queue("ksef", connection=redis)
    results = sorted(
        queue.fetch_job(j).return_value()  # type: ignore[union-attr]
        for j in FinishedJobRegistry(queue=queue).get_job_ids()
    )
    assert results == ["ok", "rate-limited"]
    assert redis.pttl(f"delegat:ksef-budget:{nip}:sessionList:blocked") > 0
    assert redis.exists(f"delegat:ksef-budget:{nip}:penalised")
    assert ScheduledJobRegistry(queue=queue).count == 1  # the refused call waits its turn
