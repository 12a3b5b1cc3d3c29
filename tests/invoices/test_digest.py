"""The daily invoice e-mail: new cost invoices and invoices needing attention, told once."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from integration.accounts.models import UserAccount
from integration.core.db import db
from integration.invoices import jobs
from integration.ksef_sandbox.cli import issue_invoices
from integration.mail.models import MailOutbox
from tests.invoices.conftest import Connected, client_nip, invoice_xml, post_xml, sandbox_store

SUPPLIER = "7740001454"


def _mails(app: Flask) -> dict[str, list[tuple[str, str]]]:
    with app.app_context():
        rows = db.session.execute(
            select(MailOutbox.recipient, MailOutbox.subject, MailOutbox.body)
            .where(MailOutbox.subject.startswith("Delegat:"))
            .order_by(MailOutbox.id)
        ).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for recipient, subject, body in rows:
        found.setdefault(recipient, []).append((subject, body))
    return found


def test_the_bureau_and_the_client_hear_once_of_what_arrived_and_what_failed(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    with app.app_context():
        assert jobs.send_invoice_digests() == {"bureaus": 0, "clients": 0}  # marks set
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, connected.nip, 2, store.now(), seller_name="Papiernik")
    sync = connected.http.post(f"/api/v1/clients/{connected.client_id}/invoices/sync", json={})
    assert sync.status_code == 202
    other = connected.world.client_ids[1]
    failed = post_xml(
        connected.http,
        f"/api/v1/clients/{other}/invoices",
        invoice_xml(client_nip(app, other), "FV/ZLE/1"),
    )
    assert failed.status_code == 202  # fails: the other client has no KSeF credentials
    settle()

    world = connected.world
    with app.app_context():  # the client's admin chose English; the others read Polish
        user = db.session.scalar(select(UserAccount).filter_by(email=world.client_admin_email))
        assert user is not None
        user.language = "en"
        db.session.commit()
        assert jobs.send_invoice_digests() == {"bureaus": 1, "clients": 1}
    mails = _mails(app)
    assert set(mails) == {world.admin_email, world.accountant_email, world.client_admin_email}
    subject, body = mails[world.accountant_email][0]
    assert subject == "Delegat: nowe faktury kosztowe: 2, do wyjaśnienia: 1"
    assert "Nowe faktury kosztowe: 2" in body
    assert "FV/ZLE/1 — Niewysłana" in body
    assert f"/bureaus/{world.bureau_id}/invoices" in body
    subject, body = mails[world.client_admin_email][0]
    assert subject.startswith("Delegat: 2 new cost invoice(s) of ")
    assert body.count("Papiernik") == 2

    with app.app_context():
        assert jobs.send_invoice_digests() == {"bureaus": 0, "clients": 0}
    assert sum(len(m) for m in _mails(app).values()) == 3
