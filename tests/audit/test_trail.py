"""The audit trail: each kind of change leaves exactly one entry, with who, when, from where,
on what and how it ended; entries cannot be changed or removed; no tenant sees another's."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from integration.accounts.models import Bureau
from integration.audit.models import AppendOnly, AuditEntry
from integration.core.db import db
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import make_token
from tests.conftest import PASSWORD, World, signed_in
from tests.invoices.conftest import client_nip, invoice_xml, post_xml, sandbox_store

ADDRESS = "203.0.113.7"


def _count(app: Flask, action: str) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
            or 0
        )


def _last(app: Flask, action: str) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
        )
        assert entry is not None, action
        db.session.expunge(entry)
        return entry


def _from(app: Flask, email: str) -> FlaskClient:
    """A person signed in from ADDRESS."""
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = ADDRESS
    r = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 204
    return http


class Trail:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def once(self, action: str, do: Callable[[], Any], **expected: Any) -> AuditEntry:
        """``do`` leaves exactly one new entry of ``action``, saying ``expected``."""
        before = _count(self.app, action)
        result = do()
        status = getattr(result, "status_code", 200)
        assert status < 400, (action, status, getattr(result, "json", None))
        assert _count(self.app, action) == before + 1, action
        entry = _last(self.app, action)
        for name, value in expected.items():
            assert getattr(entry, name) == value, (action, name, getattr(entry, name))
        return entry


def test_each_kind_of_change_by_a_person_leaves_exactly_one_entry(
    app: Flask,
    ksef_sandbox: Flask,
    make_world: Callable[..., World],
    platform_admin: str,
    settle: Callable[[], int],
) -> None:
    w = make_world()
    trail = Trail(app)
    admin = _from(app, w.admin_email)
    root = _from(app, platform_admin)
    client_id = w.client_ids[0]
    nip = client_nip(app, client_id)
    person = {"actor_kind": "person", "actor_label": w.admin_email, "address": ADDRESS}
    of_client = {"bureau_id": w.bureau_id, "client_id": client_id}

    _, secret = make_token(
        sandbox_store(ksef_sandbox), nip, ["InvoiceRead", "InvoiceWrite", "CredentialsManage"]
    )
    token = trail.once(
        "credential.token_stored",
        lambda: admin.post(
            f"/api/v1/clients/{client_id}/ksef/credentials/token", json={"token": secret}
        ),
        **person,
        **of_client,
    )
    assert secret.rsplit("|", 1)[1] not in token.detail
    trail.once(
        "credential.tested",
        lambda: admin.post(f"/api/v1/clients/{client_id}/ksef/credentials/test", json={}),
        outcome="ok",
        **of_client,
    )
    made = trail.once(
        "grant.requested",
        lambda: admin.post(
            f"/api/v1/clients/{client_id}/grants",
            json={
                "kind": "person",
                "identifier": "90031204568",
                "name": "Ewa Nowak",
                "rights": ["InvoiceRead"],
            },
        ),
        **person,
        **of_client,
    )
    trail.once("grant.applied", settle, actor_kind="service", **of_client)
    trail.once(
        "grant.revoke_requested",
        lambda: admin.delete(f"/api/v1/clients/{client_id}/grants/{made.object_id}"),
        **of_client,
    )
    trail.once("grant.revoked", settle, actor_kind="service")

    sent = trail.once(
        "invoice.submitted",
        lambda: post_xml(admin, f"/api/v1/clients/{client_id}/invoices", invoice_xml(nip, "A/1")),
        **person,
        **of_client,
    )
    assert "A/1" in sent.detail
    accepted = trail.once("invoice.accepted", settle, actor_kind="service", **of_client)
    assert accepted.object_id == sent.object_id
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("1.xml", invoice_xml(nip, "A/2"))
        zf.writestr("2.xml", invoice_xml(nip, "A/3"))
    trail.once(
        "package.submitted",
        lambda: post_xml(
            admin,
            f"/api/v1/clients/{client_id}/invoices/packages",
            package.getvalue(),
            "application/zip",
        ),
        **of_client,
    )
    settle()

    seal = testkit.seal_certificate("Biuro", _bureau_nip(app, w.bureau_id))
    trail.once(
        "seal.uploaded",
        lambda: admin.post(
            f"/api/v1/bureaus/{w.bureau_id}/ksef/seal?format=pem",
            data=seal.private_key_pem + seal.certificate_pem,
            content_type="application/x-pem-file",
            headers={"X-Requested-With": "t"},
        ),
        bureau_id=w.bureau_id,
        client_id=None,
    )
    archive = trail.once(
        "export.invoices",
        lambda: admin.get(f"/api/v1/clients/{client_id}/invoices/archive"),
        **of_client,
    )
    assert archive.detail.endswith("bytes")
    zipped = admin.get(f"/api/v1/clients/{client_id}/invoices/archive").data
    trail.once(
        "import.invoices",
        lambda: post_xml(
            admin, f"/api/v1/clients/{client_id}/invoices/archive", zipped, "application/zip"
        ),
        **of_client,
    )
    other = w.client_ids[1]  # no KSeF credentials: its invoice fails, then is sent again
    failing = post_xml(
        admin, f"/api/v1/clients/{other}/invoices", invoice_xml(client_nip(app, other), "B/1")
    )
    trail.once("invoice.failed", settle, actor_kind="service", outcome="failed")
    trail.once(
        "invoice.retried",
        lambda: admin.post(f"/api/v1/clients/{other}/invoices/{failing.json['id']}/retry", json={}),
        client_id=other,
    )
    trail.once(
        "export.register",
        lambda: admin.get(f"/api/v1/clients/{client_id}/invoices/register?format=csv"),
        **of_client,
    )
    trail.once("export.bureau", lambda: admin.get(f"/api/v1/bureaus/{w.bureau_id}/export"))
    trail.once(
        "master_data.added",
        lambda: admin.post(
            f"/api/v1/clients/{client_id}/counterparties", json={"name": "Odbiorca"}
        ),
        **of_client,
    )
    trail.once(
        "import.master_data",
        lambda: admin.post(
            f"/api/v1/clients/{client_id}/master-data/products?format=csv",
            data="name,unit,vat_rate,net_price\nUsługa,szt.,23,10.00\n".encode(),
            content_type="text/csv",
            headers={"X-Requested-With": "t"},
        ),
        **of_client,
    )
    credential_id = next(
        c["id"]
        for c in admin.get(f"/api/v1/clients/{client_id}/ksef/credentials").json["items"]
        if c["kind"] == "ksef_token"
    )
    trail.once(
        "credential.deleted",
        lambda: admin.delete(f"/api/v1/clients/{client_id}/ksef/credentials/{credential_id}"),
        **of_client,
    )

    invited = trail.once(
        "person.invited",
        lambda: admin.post(
            f"/api/v1/bureaus/{w.bureau_id}/users",
            json={
                "email": "nowa@x.example",
                "first_name": "Nowa",
                "last_name": "Osoba",
                "role": "accountant",
            },
        ),
        bureau_id=w.bureau_id,
    )
    users = f"/api/v1/bureaus/{w.bureau_id}/users/{invited.object_id}"
    trail.once("person.role_changed", lambda: admin.patch(users, json={"role": "bureau_admin"}))
    trail.once("person.deactivated", lambda: admin.patch(users, json={"is_active": False}))
    trail.once(
        "registration.remind_later",
        lambda: admin.post(
            f"/api/v1/clients/{client_id}/registration", json={"action": "remind_later"}
        ),
        **of_client,
    )
    number = root.post(
        "/api/v1/platform/licences", json={"kind": "application", "plan": "biuro", "seats": 5}
    ).json["number"]
    trail.once(
        "licence.entered",
        lambda: admin.post(f"/api/v1/bureaus/{w.bureau_id}/licence", json={"number": number}),
        bureau_id=w.bureau_id,
    )
    trail.once(
        "quota.top_up",
        lambda: root.post(
            f"/api/v1/platform/bureaus/{w.bureau_id}/quota/top-ups",
            json={"amount": 100, "reference": "FV/2026/12/1"},
        ),
        bureau_id=w.bureau_id,
        actor_label=platform_admin,
    )


def test_a_machine_client_is_named_in_the_entries_it_causes(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id)
    added = app.test_client().post(
        f"/api/v1/bureaus/{w.bureau_id}/clients",
        json={"nip": "1112223332", "name": "Nowy Klient"},
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert added.status_code == 201
    entry = _last(app, "client.created")
    assert entry.actor_kind == "api_client"
    assert entry.api_client_id is not None
    assert entry.actor_label.startswith("ERP (dlg_")
    assert entry.address == ADDRESS
    assert entry.client_id == added.json["id"]


def test_entries_can_be_neither_changed_nor_removed(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    signed_in(app, w.admin_email).patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "X"})
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "client.renamed"))
        assert entry is not None
        entry.detail = "rewritten"
        with pytest.raises(AppendOnly):
            db.session.flush()
        db.session.rollback()
        for statement in ("UPDATE audit_entry SET detail = 'x'", "DELETE FROM audit_entry"):
            with pytest.raises(sa.exc.DatabaseError, match="never changed or removed"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
        kept = select(AuditEntry.detail).where(AuditEntry.action == "client.renamed")
        assert db.session.scalar(kept) == "X"


def test_a_tenant_reads_its_own_trail_and_never_another_tenants(
    app: Flask, make_world: Callable[..., World]
) -> None:
    a, b = make_world(), make_world()
    for w in (a, b):
        admin = signed_in(app, w.admin_email)
        admin.patch(f"/api/v1/bureaus/{w.bureau_id}", json={"name": "Biuro po zmianie"})
        admin.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Klient po zmianie"})
        admin.patch(f"/api/v1/clients/{w.client_ids[1]}", json={"name": "Drugi po zmianie"})
    admin_a = signed_in(app, a.admin_email)
    mine = admin_a.get(f"/api/v1/bureaus/{a.bureau_id}/audit").json
    assert {e["bureau_id"] for e in mine["items"]} == {a.bureau_id}
    assert sorted(e["action"] for e in mine["items"]) == [  # the bureau's and both clients'
        "bureau.renamed",
        "client.renamed",
        "client.renamed",
        "quota.top_up",  # the package every world of these tests is given
    ]
    assert admin_a.get(f"/api/v1/bureaus/{b.bureau_id}/audit").status_code == 404
    assert admin_a.get(f"/api/v1/clients/{b.client_ids[0]}/audit").status_code == 404
    assert admin_a.get(f"/bureaus/{b.bureau_id}/audit").status_code == 404
    owner = signed_in(app, a.client_admin_email)
    company = owner.get(f"/api/v1/clients/{a.client_ids[0]}/audit").json
    assert [e["action"] for e in company["items"]] == ["client.renamed"]
    assert company["items"][0]["client_id"] == a.client_ids[0]
    assert owner.get(f"/api/v1/bureaus/{a.bureau_id}/audit").status_code == 404
    assert owner.get(f"/api/v1/clients/{a.client_ids[1]}/audit").status_code == 404
    accountant = signed_in(app, a.accountant_email)
    assert accountant.get(f"/api/v1/bureaus/{a.bureau_id}/audit").status_code == 403
    narrowed = admin_a.get(
        f"/api/v1/bureaus/{a.bureau_id}/audit?client_id={a.client_ids[1]}&action=client"
    ).json
    assert [e["client_id"] for e in narrowed["items"]] == [a.client_ids[1]]


def test_the_trail_pages_filters_and_exports_as_csv(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    admin = signed_in(app, w.admin_email)
    for n in range(3):
        admin.post(f"/api/v1/clients/{w.client_ids[0]}/counterparties", json={"name": f"K{n}"})
    page = admin.get(f"/api/v1/bureaus/{w.bureau_id}/audit?per_page=2&action=master_data").json
    assert (page["total"], len(page["items"])) == (3, 2)
    assert page["items"][0]["id"] > page["items"][1]["id"]  # newest first
    hostile = admin.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients",
        json={"nip": "1112223332", "name": '=HYPERLINK("http://x","y")'},
    )
    assert hostile.status_code == 201
    exported = admin.get(f"/api/v1/bureaus/{w.bureau_id}/audit/export")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["id", "at", "actor_kind", "actor_label"]
    assert len(rows) == 1 + 5  # the top-up, three entries, the new client
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
    assert _count(app, "export.audit") == 1
    html = admin.get(
        f"/bureaus/{w.bureau_id}/audit?action=master_data", headers={"Accept-Language": "pl"}
    )
    assert html.status_code == 200
    assert html.text.count("master_data.added") == 3
    assert "Pobierz jako CSV" in html.text


def _bureau_nip(app: Flask, bureau_id: int) -> str:
    with app.app_context():
        bureau = db.session.get(Bureau, bureau_id)
        assert bureau is not None
        return bureau.nip
