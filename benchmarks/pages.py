"""How fast the pages answer with a large bureau, role by role, beside the yardsticks.

    .venv/bin/python benchmarks/pages.py [--clients 1000] [--invoices-per-client 100]
        [--requests 30] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--screenshots DIR]

Builds a bureau with ``--clients`` client companies and ``--clients x --invoices-per-client``
invoices (a temporary SQLite database unless ``--database-url`` names an empty one), signs in
as the bureau admin, an accountant, a client admin and a client user, and times each page in
process (median and p95 of ``--requests`` GETs). Yardsticks measured in the same run: the
target of 150 ms, and the sign-in page (the layout alone, no data) as the floor.
``--screenshots`` also saves each role's home page as a PNG, taken by the system's Chromium.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_requests import _invoices, _nips

from integration.accounts.models import (
    Bureau,
    ClientCompany,
    Membership,
    Person,
    Role,
    UserAccount,
)
from integration.accounts.secrets import hash_password
from integration.app import create_app
from integration.core.clock import now
from integration.core.db import db
from integration.core.settings import Settings

TARGET_MS = 150.0
PASSWORD = "bench password 1"


def _person(
    email: str, role: Role, *, bureau_id: int | None = None, client_id: int | None = None
) -> None:
    user = UserAccount(
        email=email,
        welcome_sent_at=now(),
        password_hash=hash_password(PASSWORD),
        person=Person(first_name="B", last_name=email.split("@", maxsplit=1)[0], email=email),
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(Membership(user_id=user.id, bureau_id=bureau_id, client_id=client_id, role=role))


def _world(app: Flask, clients: int, per_client: int) -> tuple[int, list[int]]:
    with app.app_context():
        flask_migrate.upgrade()
        nips = _nips(clients + 1)
        bureau = Bureau(nip=nips[0], name="Biuro Rachunkowe Bench")
        db.session.add(bureau)
        db.session.flush()
        db.session.add_all(
            ClientCompany(bureau_id=bureau.id, nip=n, name=f"Firma {i:04d} Sp. z o.o.")
            for i, n in enumerate(nips[1:])
        )
        db.session.flush()
        client_ids = list(
            db.session.scalars(select(ClientCompany.id).where(ClientCompany.bureau_id == bureau.id))
        )
        _person("admin@bench.example", Role.BUREAU_ADMIN, bureau_id=bureau.id)
        _person("acc@bench.example", Role.ACCOUNTANT, bureau_id=bureau.id)
        _person("owner@bench.example", Role.CLIENT_ADMIN, client_id=client_ids[0])
        _person("reader@bench.example", Role.CLIENT_USER, client_id=client_ids[0])
        db.session.commit()
        _invoices(client_ids, per_client)
        db.session.execute(sa.text("ANALYZE"))  # as autovacuum (or SQLite's optimize) would
        db.session.commit()
        return bureau.id, client_ids


def _signed_in(app: Flask, email: str) -> FlaskClient:
    http = app.test_client()
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl-PL,pl"
    answer = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 204, answer.json
    return http


def _timed(http: FlaskClient, url: str, requests: int) -> tuple[float, float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = http.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def _screenshots(app: Flask, folder: Path) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only with --screenshots)
    from werkzeug.serving import make_server  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for role, email in (("bureau-admin", "admin@bench.example"),
                            ("accountant", "acc@bench.example"),
                            ("client-admin", "owner@bench.example"),
                            ("client-user", "reader@bench.example")):  # fmt: skip
            context = browser.new_context(locale="pl-PL", viewport={"width": 1280, "height": 1600})
            page = context.new_page()
            page.goto(f"{base}/login")
            page.get_by_label("E-mail").fill(email)
            page.get_by_label("Hasło").fill(PASSWORD)
            page.get_by_role("button", name="Zaloguj się").click()
            page.wait_for_url(f"{base}/")
            page.screenshot(path=str(folder / f"home-{role}.png"), full_page=False)
            context.close()
        browser.close()
    server.shutdown()
    print(f"screenshots of each role's home page in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--invoices-per-client", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if url.startswith("postgresql"):
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            engine.dispose()
        settings = Settings(
            database_url=url, redis_url=os.environ.get("DELEGAT_REDIS_URL"), secret_key="bench"
        )
        app = create_app(settings)
        started = time.perf_counter()
        bureau_id, client_ids = _world(app, args.clients, args.invoices_per_client)
        print(
            f"{args.clients} clients, {args.clients * args.invoices_per_client} invoices "
            f"({'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}), "
            f"built in {time.perf_counter() - started:.0f} s"
        )
        first = client_ids[0]
        anonymous = app.test_client()
        floor, _ = _timed(anonymous, "/login", args.requests)
        print(f"{'yardstick: target':<44} {TARGET_MS:7.1f} ms")
        print(f"{'yardstick: the sign-in page (layout only)':<44} {floor:7.1f} ms")
        pages: dict[str, list[tuple[str, str]]] = {
            "admin@bench.example": [
                ("bureau admin: home (dashboard)", "/"),
                ("bureau admin: licence and package", f"/bureaus/{bureau_id}/licence"),
                ("bureau admin: people", f"/bureaus/{bureau_id}/people"),
                ("bureau admin: audit trail", f"/bureaus/{bureau_id}/audit"),
            ],
            "acc@bench.example": [
                ("accountant: home (work list)", "/"),
                ("accountant: all clients' cost invoices", f"/bureaus/{bureau_id}/invoices"),
                ("accountant: needing attention",
                 f"/bureaus/{bureau_id}/invoices?view=attention"),
                ("accountant: a client's sales invoices", f"/clients/{first}/invoices"),
                ("accountant: a client's cost invoices",
                 f"/clients/{first}/invoices?direction=cost"),
                ("accountant: a search", f"/clients/{first}/invoices?q=FV/7"),
                ("accountant: an invoice page", f"/clients/{first}/invoices/1"),
                ("accountant: KSeF access", f"/clients/{first}/ksef"),
                ("accountant: master data", f"/clients/{first}/master-data"),
                ("accountant: live states (JSON)",
                 f"/clients/{first}/invoices/live?ids=" + ",".join(map(str, range(1, 101)))),
            ],
            "owner@bench.example": [
                ("client admin: home", "/"),
                ("client admin: cooperation", f"/clients/{first}/settings"),
                ("client admin: people", f"/clients/{first}/people"),
            ],
            "reader@bench.example": [("client user: home", "/")],
        }  # fmt: skip
        worst = 0.0
        for email, listed in pages.items():
            http = _signed_in(app, email)
            for label, page_url in listed:
                median, p95 = _timed(http, page_url, args.requests)
                worst = max(worst, median)
                verdict = "ok" if median <= TARGET_MS else "OVER"
                print(f"{label:<44} {median:7.1f} ms   p95 {p95:7.1f} ms   {verdict}")
        print(f"{'slowest page (median)':<44} {worst:7.1f} ms   target {TARGET_MS:.0f} ms")
        if args.screenshots:
            _screenshots(app, args.screenshots)
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


if __name__ == "__main__":
    main()
