"""The bureau's KSeF package: each send and download debited exactly once, top-ups, refusals."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from integration.core.db import db, transaction
from integration.invoices import sending
from integration.invoices.models import Invoice, State
from integration.ksef_sandbox.cli import issue_invoices
from integration.mail.models import MailOutbox
from integration.quota import service as quota
from integration.quota.models import QuotaEntry
from tests.conftest import World, signed_in
from tests.invoices.conftest import (
    client_nip,
    fund,
    invoice_xml,
    post_xml,
    sandbox_store,
)

Connect = Callable[[FlaskClient, int], None]


def _balance(app: Flask, bureau_id: int) -> int:
    with app.app_context(), transaction() as s:
        return quota.available(s, bureau_id)


def _entries(app: Flask, key_prefix: str) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count())
                .select_from(QuotaEntry)
                .where(QuotaEntry.operation_key.startswith(key_prefix))
            )
            or 0
        )


def _send(http: FlaskClient, client_id: int, xml: bytes) -> int:
    response = post_xml(http, f"/api/v1/clients/{client_id}/invoices", xml)
    assert response.status_code == 202, response.json  # type: ignore[attr-defined]
    return int(response.json["id"])  # type: ignore[attr-defined]


def test_worker_crash_after_send_debits_quota_once(
    app: Flask, make_world: Callable[..., World], connect_ksef: Connect, settle: Callable[[], int]
) -> None:
    w = make_world()
    fund(app, w.bureau_id, 10)
    client_id = w.client_ids[0]
    http = signed_in(app, w.accountant_email)
    connect_ksef(http, client_id)
    invoice_id = _send(http, client_id, invoice_xml(client_nip(app, client_id), "Q/1"))
    settle()
    assert _balance(app, w.bureau_id) == 9
    with app.app_context():
        db.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(
                state=State.SENDING,
                ksef_reference=None,
                session_reference=None,
                updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            )
        )
        db.session.commit()
        sending.reconcile()
    settle()  # sent again, KSeF answers 440, the invoice is accepted a second time here
    with app.app_context():
        state = db.session.scalar(select(Invoice.state).where(Invoice.id == invoice_id))
    assert state == State.ACCEPTED
    assert _balance(app, w.bureau_id) == 9
    assert _entries(app, f"send:{invoice_id}") == 1


def test_concurrent_debits_of_one_operation_pay_once(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    fund(app, w.bureau_id, 5)
    results: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def pay() -> None:
        try:
            with app.app_context():
                start.wait()
                with transaction() as s:
                    results.append(
                        quota.debit(
                            s,
                            bureau_id=w.bureau_id,
                            client_id=w.client_ids[0],
                            operation_key="send:concurrent",
                            kind="send",
                        )
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pay) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert _balance(app, w.bureau_id) == 4
    assert _entries(app, "send:concurrent") == 1


def test_cost_downloads_are_debited_once_per_invoice(
    app: Flask,
    ksef_sandbox: Flask,
    make_world: Callable[..., World],
    connect_ksef: Connect,
    settle: Callable[[], int],
) -> None:
    w = make_world()
    fund(app, w.bureau_id, 10)
    client_id = w.client_ids[0]
    http = signed_in(app, w.accountant_email)
    connect_ksef(http, client_id)
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, "7740001454", client_nip(app, client_id), 3, store.now())
    for _ in range(2):
        http.post(f"/api/v1/clients/{client_id}/invoices/sync", json={})
        settle()
    assert _balance(app, w.bureau_id) == 7
    assert _entries(app, f"download:{client_id}:") == 3


def test_a_used_up_package_never_overspends_and_what_it_cannot_pay_waits_for_a_top_up(
    app: Flask, make_world: Callable[..., World], connect_ksef: Connect, settle: Callable[[], int]
) -> None:
    w = make_world()
    fund(app, w.bureau_id, 2)
    client_id = w.client_ids[0]
    http = signed_in(app, w.accountant_email)
    connect_ksef(http, client_id)
    nip = client_nip(app, client_id)
    ids = [_send(http, client_id, invoice_xml(nip, f"Q/{n}")) for n in range(3)]
    settle()
    with app.app_context():
        rows = {i.id: i for i in db.session.scalars(select(Invoice))}
    assert [rows[i].state for i in ids].count(State.ACCEPTED) == 2
    [waiting] = [i for i in ids if rows[i].state == State.QUEUED]
    assert "topped up" in rows[waiting].error_description
    assert _balance(app, w.bureau_id) == 0  # never below
    refused = post_xml(http, f"/api/v1/clients/{client_id}/invoices", invoice_xml(nip, "Q/9"))
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert refused.json["type"].endswith("quota-exhausted")  # type: ignore[attr-defined]
    fund(app, w.bureau_id, 5, reference="second package")
    settle()  # the top-up sends what waited, without anyone asking
    with app.app_context():
        done = db.session.get(Invoice, waiting)
        assert done is not None
        assert done.state == State.ACCEPTED
        assert done.error_description == ""
        assert done.reserved is False
    assert _balance(app, w.bureau_id) == 4


def test_only_the_platform_admin_tops_up_and_a_purchase_counts_once(
    app: Flask, make_world: Callable[..., World], platform_admin: str
) -> None:
    w = make_world()
    bureau = signed_in(app, w.admin_email)
    url = f"/api/v1/platform/bureaus/{w.bureau_id}/quota/top-ups"
    body = {"amount": 500, "reference": "FV/2026/11/42"}
    assert bureau.post(url, json=body).status_code == 403
    root = signed_in(app, platform_admin)
    before = _balance(app, w.bureau_id)
    added = root.post(url, json=body)
    assert added.status_code == 201, added.json
    assert added.json["balance"] == before + 500
    assert root.post(url, json=body).status_code == 409
    assert root.post(url, json={"amount": 0, "reference": "x"}).status_code == 422
    shown = bureau.get(f"/api/v1/bureaus/{w.bureau_id}/quota").json
    assert shown["balance"] == before + 500
    assert shown["entries"][0]["note"] == "FV/2026/11/42"
    other = make_world()
    assert (
        signed_in(app, other.admin_email).get(f"/api/v1/bureaus/{w.bureau_id}/quota").status_code
        == 404
    )


def _spend(app: Flask, bureau_id: int, client_id: int, count: int, tag: str) -> None:
    with app.app_context(), transaction() as s:
        for n in range(count):
            quota.debit(
                s,
                bureau_id=bureau_id,
                client_id=client_id,
                operation_key=f"download:{tag}:{n}",
                kind="download",
            )


def _warnings(app: Flask, email: str) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count())
                .select_from(MailOutbox)
                .where(
                    MailOutbox.recipient == email, MailOutbox.subject == "Pakiet KSeF się kończy"
                )
            )
            or 0
        )


def test_admins_are_told_once_when_the_package_runs_low_and_again_after_a_top_up(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    fund(app, w.bureau_id, 100)  # low at 20 left: 10 % of the purchase, and never below 20
    _spend(app, w.bureau_id, w.client_ids[0], 79, "a")
    with app.app_context():
        assert quota.warn_low_balances() == 0
    _spend(app, w.bureau_id, w.client_ids[0], 1, "b")
    with app.app_context():
        assert quota.warn_low_balances() == 1
        assert quota.warn_low_balances() == 0
    assert _warnings(app, w.admin_email) == 1
    assert _warnings(app, w.accountant_email) == 0
    admin = signed_in(app, w.admin_email)
    statement = admin.get(f"/api/v1/bureaus/{w.bureau_id}/quota").json
    assert (statement["balance"], statement["low"], statement["low_mark"]) == (20, True, 20)
    assert "running low" in admin.get(f"/bureaus/{w.bureau_id}/licence").text

    fund(app, w.bureau_id, 5, reference="small top-up")
    with app.app_context():
        assert quota.warn_low_balances() == 0  # 25 left: not low
    _spend(app, w.bureau_id, w.client_ids[0], 5, "c")
    with app.app_context():
        assert quota.warn_low_balances() == 1
    assert _warnings(app, w.admin_email) == 2
