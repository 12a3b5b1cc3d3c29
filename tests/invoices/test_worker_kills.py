"""Worker processes killed (kill -9) in the middle of sending: every invoice is settled soon
after the last kill, accepted by KSeF once and paid for once."""

from __future__ import annotations

import itertools
import random
import subprocess
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select

from integration.accounts.actor import Actor
from integration.core.db import db, transaction
from integration.core.settings import Settings
from integration.credentials.service import store_ksef_token
from integration.invoices import service as invoices
from integration.invoices.models import Invoice, State
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.limits import Faults
from integration.ksef_sandbox.state import Invoice as KsefInvoice
from integration.quota.models import QuotaAccount, QuotaEntry
from tests.conftest import World, kill_worker, worker_env
from tests.invoices.conftest import client_nip, invoice_xml

PER_CLIENT = 20
KILLS = 4


BUREAU = Actor(is_platform_admin=True)
_numbers = itertools.count()


def _submit(service: Flask, nips: dict[int, str], per_client: int) -> None:
    with service.app_context():
        for client_id, nip in nips.items():
            for _ in range(per_client):
                invoices.submit(BUREAU, client_id, invoice_xml(nip, f"K/{next(_numbers)}"))


def _count(service: Flask, *states: State) -> int:
    with service.app_context():
        return int(
            db.session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.state.in_(states))
            )
            or 0
        )


def test_invoices_settle_after_workers_are_killed_mid_send_each_accepted_and_paid_once(
    settings: Settings,
    make_app: Callable[..., Flask],
    make_world: Callable[..., World],
    faulty_sandbox: tuple[Flask, str, list[int]],
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    sandbox, url, _ = faulty_sandbox
    store = sandbox.extensions["ksef_sandbox.store"]
    w = make_world()  # its bureau's package holds 1000 operations
    service = make_app(settings.replace(ksef_base_url=f"{url}/v2"))
    nips = {client_id: client_nip(service, client_id) for client_id in w.client_ids}
    with service.app_context():
        for client_id, nip in nips.items():
            _, secret = make_token(store, nip, ["InvoiceWrite"])
            store_ksef_token(BUREAU, client_id, secret)
    _submit(service, nips, PER_CLIENT)
    # Each KSeF call takes a while, so that kills land inside sessions.
    sandbox.extensions["ksef_sandbox.faults"] = Faults(latency_seconds=0.05)
    env = worker_env(settings, url)
    slots = [("--queues", "ksef", "--cron"), ("--queues", "ksef")]
    workers = [start_worker(env, *args) for args in slots]
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 120
    while kills < KILLS and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.3, 1.0))
        if not _count(service, State.QUEUED, State.SENDING, State.PROCESSING):
            _submit(service, nips, PER_CLIENT // 2)  # all sent before the kills: more work
        if not _count(service, State.SENDING):
            continue  # kill where it hurts: while invoices are being sent
        slot = rng.randrange(len(workers))
        kill_worker(workers[slot])
        workers[slot] = start_worker(env, *slots[slot])  # the process manager restarts it
        kills += 1
    assert kills == KILLS, "the invoices were sent before the workers could be killed"
    last_kill = time.monotonic()
    while _count(service, State.QUEUED, State.SENDING, State.PROCESSING):
        assert time.monotonic() - last_kill < 240, "the invoices did not settle"
        time.sleep(0.5)
    print(f"settled {time.monotonic() - last_kill:.1f} s after the last of {KILLS} kills")  # noqa: T201 - the figure, with -s
    total = _count(service, State.ACCEPTED)
    assert total >= PER_CLIENT * len(nips)

    with service.app_context(), transaction() as s:
        rows = s.execute(select(Invoice.id, Invoice.state, Invoice.ksef_number)).all()
        paid = s.scalars(select(QuotaEntry.operation_key).where(QuotaEntry.kind == "send")).all()
        account = s.get(QuotaAccount, w.bureau_id)
        assert account is not None
        balance, reserved = account.balance, account.reserved
    assert [state for _, state, _ in rows] == [State.ACCEPTED] * total
    assert len({number for _, _, number in rows}) == total
    assert sorted(paid) == sorted(f"send:{invoice_id}" for invoice_id, _, _ in rows)
    assert (balance, reserved) == (1000 - total, 0)
    with store.session() as ks:
        held = ks.scalar(
            select(func.count()).select_from(KsefInvoice).where(KsefInvoice.status_code == 200)
        )
    assert held == total  # KSeF holds each once, however often a copy was sent
