"""Invoices against the in-process sandbox: credentials, a settling loop, invoice files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integration.accounts.actor import SYSTEM
from integration.accounts.models import ClientCompany
from integration.core.db import db
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.processing import Processor
from integration.ksef_sandbox.state import Store
from integration.quota import service as quota
from tests.conftest import World, run_due_jobs, signed_in

BUYER_NIP = "5260250274"


def sandbox_store(ksef_sandbox: Flask) -> Store:
    store = ksef_sandbox.extensions["ksef_sandbox.store"]
    assert isinstance(store, Store)
    return store


def client_nip(app: Flask, client_id: int) -> str:
    with app.app_context():
        client = db.session.get(ClientCompany, client_id)
        assert client is not None
        return client.nip


def invoice_xml(
    seller_nip: str, number: str, *, issue_date: dt.date | None = None, net: str = "100.00"
) -> bytes:
    return testkit.fa3_invoice(
        seller_nip=seller_nip,
        buyer_nip=BUYER_NIP,
        number=number,
        issue_date=issue_date or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
        net=Decimal(net),
    )


def post_xml(http: FlaskClient, url: str, data: bytes, mimetype: str = "application/xml") -> object:
    return http.post(url, data=data, content_type=mimetype, headers={"X-Requested-With": "test"})


@pytest.fixture
def connect_ksef(app: Flask, ksef_sandbox: Flask) -> Callable[[FlaskClient, int], None]:
    """Give a client working KSeF credentials (a KSeF token stored through the API)."""

    def connect(http: FlaskClient, client_id: int) -> None:
        nip = client_nip(app, client_id)
        _, secret = make_token(sandbox_store(ksef_sandbox), nip, ["InvoiceRead", "InvoiceWrite"])
        stored = http.post(
            f"/api/v1/clients/{client_id}/ksef/credentials/token", json={"token": secret}
        )
        assert stored.status_code == 201, stored.json

    return connect


@dataclass(frozen=True)
class Connected:
    """A client with working KSeF credentials; ``http`` is its bureau's accountant signed in,
    ``admin`` the bureau's admin."""

    world: World
    http: FlaskClient
    admin: FlaskClient
    client_id: int
    nip: str

    def send(self, number: str) -> None:
        sent = post_xml(
            self.http,
            f"/api/v1/clients/{self.client_id}/invoices",
            invoice_xml(self.nip, number),
        )
        assert sent.status_code == 202, sent.json  # type: ignore[attr-defined]


@pytest.fixture
def connected(
    app: Flask, make_world: Callable[..., World], connect_ksef: Callable[[FlaskClient, int], None]
) -> Connected:
    w = make_world()
    admin = signed_in(app, w.admin_email)
    connect_ksef(admin, w.client_ids[0])
    accountant = signed_in(app, w.accountant_email)
    return Connected(w, accountant, admin, w.client_ids[0], client_nip(app, w.client_ids[0]))


@pytest.fixture
def settle(app: Flask, ksef_sandbox: Flask) -> Callable[[], int]:
    """Run queued and scheduled jobs, letting the sandbox judge invoices in between, until
    nothing is left; returns how many jobs ran."""

    def run(rounds: int = 40) -> int:
        total = 0
        processor = ksef_sandbox.extensions["ksef_sandbox.processor"]
        assert isinstance(processor, Processor)
        for _ in range(rounds):
            processor.drain()
            moved, ran = run_due_jobs(app)
            total += ran
            if not ran and not moved:
                return total
        raise AssertionError("jobs did not settle")

    return run


def fund(app: Flask, bureau_id: int, amount: int, reference: str = "test package") -> int:
    with app.app_context():
        return quota.top_up(SYSTEM, bureau_id, amount=amount, reference=reference)


@pytest.fixture
def make_world(make_world: Callable[..., World], app: Flask) -> Callable[..., World]:
    """Worlds whose bureau holds a KSeF package of 1000 operations."""

    def make(*args: object, **kwargs: object) -> World:
        world = make_world(*args, **kwargs)
        fund(app, world.bureau_id, 1000)
        return world

    return make
