"""Throughput of typical API reads and the cost of a password sign-in, in-process.

    .venv/bin/python benchmarks/api_requests.py [--clients 1000] [--requests 300]

Uses a temporary SQLite database and DELEGAT_REDIS_URL if set (only for app start-up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import flask_migrate

from integration.accounts.models import Bureau, ClientCompany, Membership, Person, Role, UserAccount
from integration.accounts.secrets import hash_password
from integration.app import create_app
from integration.core.clock import now
from integration.core.db import db
from integration.core.identifiers import nip_check_digit
from integration.core.settings import Settings


def _nips(count: int) -> list[str]:
    out, base = [], 200_000_000
    while len(out) < count:
        base += 1
        digit = nip_check_digit(str(base))
        if digit is not None:
            out.append(f"{base}{digit}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
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

        for label, url in (
            ("GET client page (50 of N)", f"/api/v1/bureaus/{bureau_id}/clients"),
            ("GET one client", f"/api/v1/clients/{bureau_id + 1}"),
            ("GET /me", "/api/v1/me"),
        ):
            s = timed(url)
            print(
                f"{label:<28} median {statistics.median(s):6.2f} ms   "
                f"p95 {sorted(s)[int(len(s) * 0.95)]:6.2f} ms   "
                f"{1000 / statistics.mean(s):7.0f} req/s"
            )
        print(f"{'password sign-in (Argon2id)':<28} {login_ms:6.1f} ms")
        print(f"clients in the bureau: {args.clients}")


if __name__ == "__main__":
    main()
