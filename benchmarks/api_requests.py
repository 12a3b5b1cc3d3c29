"""Throughput of typical API reads and the cost of a password sign-in, in-process.

    .venv/bin/python benchmarks/api_requests.py [--clients 1000] [--requests 300]
        [--invoices-per-client 100]

Reads: the client list, one client, /me; with invoices, a client's invoice page, a search in
it, and the bureau's list of every client's invoices (cost invoices, and what needs attention).

Uses a temporary SQLite database and DELEGAT_REDIS_URL if set (only for app start-up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import flask_migrate
from sqlalchemy import insert, select

from integration.accounts.models import Bureau, ClientCompany, Membership, Person, Role, UserAccount
from integration.accounts.secrets import hash_password
from integration.app import create_app
from integration.core.clock import now
from integration.core.db import db
from integration.core.identifiers import nip_check_digit
from integration.core.settings import Settings
from integration.invoices.models import Invoice


def _nips(count: int) -> list[str]:
    out, base = [], 200_000_000
    while len(out) < count:
        base += 1
        digit = nip_check_digit(str(base))
        if digit is not None:
            out.append(f"{base}{digit}")
    return out


def _invoices(client_ids: list[int], per_client: int) -> None:
    """Invoices in bulk: per client, every tenth sales invoice failed, the rest cost invoices."""
    stamp = now()
    xml = b"<Faktura/>"
    for client_id in client_ids:
        rows = [
            {
                "client_id": client_id,
                "direction": "sales" if n % 2 else "cost",
                "state": "failed" if n % 20 == 1 else "accepted",
                "source": "synced",
                "channel": "online",
                "number": f"FV/{n}/2026",
                "invoice_type": "VAT",
                "issue_date": dt.date(2026, 1, 1) + dt.timedelta(days=n % 300),
                "seller_nip": "5260250274",
                "seller_name": "Dostawca",
                "buyer_identifier": "7740001454",
                "buyer_name": "Nabywca",
                "currency": "PLN",
                "gross_amount": 123,
                "xml": xml,
                "sha256": "x",
                "size": len(xml),
                "error_description": "",
                "attempts": 0,
                "created_at": stamp - dt.timedelta(minutes=n),
                "updated_at": stamp,
            }
            for n in range(per_client)
        ]
        if rows:
            db.session.execute(insert(Invoice), rows)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--invoices-per-client", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            redis_url=os.environ.get("DELEGAT_REDIS_URL"),
            secret_key="bench",
        )
        app = create_app(settings)
        with app.app_context():
            flask_migrate.upgrade()
            nips = _nips(args.clients + 1)
            bureau = Bureau(nip=nips[0], name="Bench")
            db.session.add(bureau)
            db.session.flush()
            db.session.add_all(
                ClientCompany(bureau_id=bureau.id, nip=n, name=f"Client {i}")
                for i, n in enumerate(nips[1:])
            )
            user = UserAccount(
                email="bench@x.example",
                welcome_sent_at=now(),
                password_hash=hash_password("bench password 1"),
                person=Person(first_name="B", last_name="B", email="b@x.example"),
            )
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, bureau_id=bureau.id, role=Role.BUREAU_ADMIN))
            db.session.commit()
            bureau_id = bureau.id
            client_ids = list(
                db.session.scalars(
                    select(ClientCompany.id).where(ClientCompany.bureau_id == bureau_id)
                )
            )
            _invoices(client_ids, args.invoices_per_client)

        http = app.test_client()
        started = time.perf_counter()
        http.post(
            "/api/v1/auth/login", json={"email": "bench@x.example", "password": "bench password 1"}
        )
        login_ms = (time.perf_counter() - started) * 1000

        def timed(url: str) -> list[float]:
            samples = []
            for _ in range(args.requests):
                t = time.perf_counter()
                assert http.get(url).status_code == 200
                samples.append((time.perf_counter() - t) * 1000)
            return samples

        first = client_ids[0]
        for label, url in (
            ("GET client page (50 of N)", f"/api/v1/bureaus/{bureau_id}/clients"),
            ("GET one client", f"/api/v1/clients/{first}"),
            ("GET /me", "/api/v1/me"),
            ("GET a client's invoices", f"/api/v1/clients/{first}/invoices"),
            ("search a client's invoices", f"/api/v1/clients/{first}/invoices?q=fv/7"),
            ("GET bureau: cost invoices", f"/api/v1/bureaus/{bureau_id}/invoices?direction=cost"),
            (
                "GET bureau: needing attention",
                f"/api/v1/bureaus/{bureau_id}/invoices?state=failed&state=rejected",
            ),
        ):
            s = timed(url)
            print(
                f"{label:<28} median {statistics.median(s):6.2f} ms   "
                f"p95 {sorted(s)[int(len(s) * 0.95)]:6.2f} ms   "
                f"{1000 / statistics.mean(s):7.0f} req/s"
            )
        print(f"{'password sign-in (Argon2id)':<28} {login_ms:6.1f} ms")
        print(
            f"clients in the bureau: {args.clients}, invoices: "
            f"{args.clients * args.invoices_per_client}"
        )


if __name__ == "__main__":
    main()
