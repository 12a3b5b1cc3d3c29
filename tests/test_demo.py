"""The demo data of the run command: one bureau, two accountants, three clients, logins."""

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from integration import demo
from integration.accounts.models import ClientCompany, Membership, Role
from integration.core.db import db
from integration.invoices.models import Invoice
from integration.ksef_sandbox import cli as sandbox_cli
from integration.ksef_sandbox.state import Invoice as KsefInvoice
from integration.ksef_sandbox.state import Store
from integration.launcher import seed_sandbox
from integration.licensing import service as licensing
from integration.licensing.models import ClientRegistration
from integration.licensing.numbers import Module


def test_demo_data_loads_twice_and_prints_the_logins(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["delegat", "demo-data"])
    second = runner.invoke(args=["delegat", "demo-data"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "szef@bilans.example" in first.output
    with app.app_context():
        clients = db.session.scalar(select(func.count()).select_from(ClientCompany))
        accountants = db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == Role.ACCOUNTANT)
        )
        registered = db.session.scalar(select(func.count()).select_from(ClientRegistration))
    assert (clients, accountants, registered) == (3, 2, 2)
    with app.app_context():
        bureau_id = db.session.scalar(select(ClientCompany.bureau_id).limit(1))
        assert bureau_id is not None
        modules = licensing.licensed_modules(db.session, bureau_id)
    assert modules is not None
    assert set(modules.names()) == {m.name.lower() for m in Module if m.name}  # all to show


def test_demo_sandbox_holds_named_suppliers_invoices_for_every_client(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    seed_sandbox(url)
    seed_sandbox(url)  # once only
    store = Store(url)
    with store.session() as s:
        rows = s.execute(select(KsefInvoice.buyer_nip, KsefInvoice.xml)).all()
    store.engine.dispose()
    assert sorted({buyer for buyer, _ in rows}) == sorted(nip for nip, _ in demo.CLIENTS)
    assert len(rows) == 3 * len(demo.CLIENTS)
    assert all(
        xml is not None and any(name.encode() in xml for _, name in demo.SUPPLIERS)
        for _, xml in rows
    )


def test_demo_clients_get_the_bureaus_ksef_token_and_their_cost_invoices(
    app: Flask, ksef_sandbox: Flask, run_jobs: Callable[[], int]
) -> None:
    store = ksef_sandbox.extensions["ksef_sandbox.store"]
    with app.app_context():
        demo.load()
        waiting = demo.clients_without_ksef()
        assert len(waiting) == len(demo.CLIENTS)
        for client_id, nip in waiting:
            sandbox_cli.make_company(store, nip, "Demo")
            sandbox_cli.issue_invoices(store, demo.SUPPLIERS[0][0], nip, 1, store.now())
            _, token = sandbox_cli.make_token(store, nip, ["InvoiceRead", "InvoiceWrite"])
            demo.connect_ksef(client_id, token)
        assert demo.clients_without_ksef() == []
    run_jobs()
    with app.app_context():
        costs = db.session.scalar(select(func.count()).select_from(Invoice))
    assert costs == len(demo.CLIENTS)
