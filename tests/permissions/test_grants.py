"""Grants of a client in KSeF: made here and carried to KSeF, revoked, mirrored back."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import Bureau
from integration.core.db import db
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import grant as sandbox_grant
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.state import Grant as KsefGrant
from integration.permissions import service as permissions_service
from tests.conftest import World, signed_in
from tests.invoices.conftest import client_nip, sandbox_store

PESEL = "90031204568"
MANAGE = ["InvoiceRead", "InvoiceWrite", "CredentialsManage"]


def _connect(
    app: Flask, ksef_sandbox: Flask, http: FlaskClient, client_id: int, rights: list[str]
) -> None:
    _, secret = make_token(sandbox_store(ksef_sandbox), client_nip(app, client_id), rights)
    stored = http.post(
        f"/api/v1/clients/{client_id}/ksef/credentials/token", json={"token": secret}
    )
    assert stored.status_code == 201, stored.json


def _ksef_grants(ksef_sandbox: Flask, context: str) -> list[tuple[str, str, bool]]:
    """(grantee, right, active) of every grant KSeF holds in ``context``."""
    with sandbox_store(ksef_sandbox).session() as s:
        rows = s.scalars(select(KsefGrant).where(KsefGrant.context_value == context)).all()
        return sorted((g.grantee_value, g.permission, g.revoked_at is None) for g in rows)


def _grant(http: FlaskClient, client_id: int, **body: Any) -> Any:
    return http.post(f"/api/v1/clients/{client_id}/grants", json=body)


def _state(http: FlaskClient, client_id: int, grant_id: int) -> dict[str, Any]:
    items = http.get(f"/api/v1/clients/{client_id}/grants").json["items"]
    return next(i for i in items if i["id"] == grant_id)


def test_client_admin_grants_an_accountant_by_pesel_and_revokes_it_in_ksef(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    owner = signed_in(app, w.client_admin_email)
    _connect(app, ksef_sandbox, owner, client_id, MANAGE)
    made = _grant(
        owner,
        client_id,
        kind="person",
        identifier=PESEL,
        name="Ewa Nowak",
        rights=["InvoiceWrite", "InvoiceRead"],
    )
    assert made.status_code == 202, made.json
    assert made.json["state"] == "pending"
    settle()
    active = _state(owner, client_id, made.json["id"])
    assert active["state"] == "active", active
    nip = client_nip(app, client_id)
    assert _ksef_grants(ksef_sandbox, nip) == [
        (PESEL, "InvoiceRead", True),
        (PESEL, "InvoiceWrite", True),
    ]

    assert owner.delete(f"/api/v1/clients/{client_id}/grants/{made.json['id']}").status_code == 202
    settle()
    assert _state(owner, client_id, made.json["id"])["state"] == "revoked"
    assert _ksef_grants(ksef_sandbox, nip) == [
        (PESEL, "InvoiceRead", False),
        (PESEL, "InvoiceWrite", False),
    ]


def test_bureau_gets_an_entity_grant_it_may_pass_on(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    admin = signed_in(app, w.admin_email)
    _connect(app, ksef_sandbox, admin, client_id, MANAGE)
    with app.app_context():
        bureau = db.session.get(Bureau, w.bureau_id)
        assert bureau is not None
        bureau_nip = bureau.nip
    made = _grant(
        admin,
        client_id,
        kind="entity",
        identifier=bureau_nip,
        name="Biuro Rachunkowe Test",
        rights=["InvoiceRead", "InvoiceWrite"],
        can_delegate=True,
    )
    assert made.status_code == 202, made.json
    settle()
    assert _state(admin, client_id, made.json["id"])["state"] == "active"
    with sandbox_store(ksef_sandbox).session() as s:
        held = s.scalars(select(KsefGrant).where(KsefGrant.grantee_value == bureau_nip)).all()
        assert {g.permission for g in held} == {"InvoiceRead", "InvoiceWrite"}
        assert all(g.can_delegate for g in held)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "kind": "person",
                "identifier": "90031204569",
                "name": "Ewa Nowak",
                "rights": ["InvoiceRead"],
            },
            "identifier",
        ),
        ({"kind": "person", "identifier": PESEL, "name": "Ewa", "rights": ["InvoiceRead"]}, "name"),
        (
            {
                "kind": "person",
                "identifier": PESEL,
                "name": "Ewa Nowak",
                "rights": [],
                "can_delegate": False,
            },
            "rights",
        ),
        (
            {
                "kind": "person",
                "identifier": PESEL,
                "name": "Ewa Nowak",
                "rights": ["InvoiceRead"],
                "can_delegate": True,
            },
            "can_delegate",
        ),
    ],
)
def test_bad_grants_are_refused_naming_the_field(
    app: Flask, make_world: Callable[..., World], body: dict[str, Any], field: str
) -> None:
    w = make_world()
    owner = signed_in(app, w.client_admin_email)
    response = _grant(owner, w.client_ids[0], **body)
    assert response.status_code == 422
    assert field in str(response.json)


def test_only_admins_change_grants_and_read_only_clients_refuse(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    body = {"kind": "person", "identifier": PESEL, "name": "Ewa Nowak", "rights": ["InvoiceRead"]}
    accountant = signed_in(app, w.accountant_email)
    assert _grant(accountant, client_id, **body).status_code == 403
    admin = signed_in(app, w.admin_email)
    admin.post(f"/api/v1/clients/{client_id}/registration", json={"action": "do_not_register"})
    refused = _grant(admin, client_id, **body)
    assert refused.status_code == 409
    assert refused.json["type"].endswith("client-read-only")
    assert accountant.get(f"/api/v1/clients/{client_id}/grants").status_code == 200


def test_credentials_without_credentials_manage_fail_the_grant_with_a_reason(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    owner = signed_in(app, w.client_admin_email)
    _connect(app, ksef_sandbox, owner, client_id, ["InvoiceRead", "InvoiceWrite"])
    made = _grant(
        owner, client_id, kind="person", identifier=PESEL, name="Ewa Nowak", rights=["InvoiceRead"]
    )
    settle()
    failed = _state(owner, client_id, made.json["id"])
    assert failed["state"] == "failed"
    assert "CredentialsManage" in failed["error"]
    assert _ksef_grants(ksef_sandbox, client_nip(app, client_id)) == []


def test_pull_mirrors_grants_made_and_revoked_in_ksef(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    nip = client_nip(app, client_id)
    owner = signed_in(app, w.client_admin_email)
    _connect(app, ksef_sandbox, owner, client_id, MANAGE)
    store = sandbox_store(ksef_sandbox)
    sandbox_grant(
        store,
        kind="person",
        context_nip=nip,
        grantee_type="Pesel",
        grantee_value="02230501016",
        permissions=["InvoiceRead"],
    )
    assert owner.post(f"/api/v1/clients/{client_id}/grants/pull", json={}).status_code == 202
    settle()
    [mirrored] = owner.get(f"/api/v1/clients/{client_id}/grants").json["items"]
    assert mirrored["source"] == "ksef"
    assert mirrored["state"] == "active"
    assert mirrored["grantee_value"] == "02230501016"
    assert mirrored["rights"] == ["InvoiceRead"]

    with store.session() as s:
        for g in s.scalars(select(KsefGrant).where(KsefGrant.context_value == nip)):
            g.revoked_at = store.now()
    owner.post(f"/api/v1/clients/{client_id}/grants/pull", json={})
    settle()
    [closed] = owner.get(f"/api/v1/clients/{client_id}/grants").json["items"]
    assert closed["state"] == "revoked"
    assert closed["error"] == "revoked in KSeF"


def test_a_ksef_403_on_reading_grants_is_recorded_and_stops_until_the_credentials_change(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    owner = signed_in(app, w.client_admin_email)
    _connect(app, ksef_sandbox, owner, client_id, ["InvoiceRead"])  # may not read grants
    assert owner.post(f"/api/v1/clients/{client_id}/grants/pull", json={}).status_code == 202
    settle()
    status = owner.get(f"/api/v1/clients/{client_id}/grants/pull").json
    assert status["stopped"] is True
    assert "403" in status["error"]
    assert "CredentialsRead" in status["error"]
    page = owner.get(f"/clients/{client_id}/ksef", headers={"Accept-Language": "pl"})
    assert "Odczyt uprawnień z KSeF wstrzymany" in page.text
    with app.app_context():
        assert permissions_service.pull_grants(client_id) == "stopped"  # periodic: not asked
        assert permissions_service.pull_all() == 1
    settle()
    assert owner.get(f"/api/v1/clients/{client_id}/grants/pull").json == status  # untouched

    _connect(app, ksef_sandbox, owner, client_id, MANAGE)  # something changed
    with app.app_context():
        assert permissions_service.pull_grants(client_id).startswith("added")
    resumed = owner.get(f"/api/v1/clients/{client_id}/grants/pull").json
    assert resumed["stopped"] is False
    assert resumed["error"] == ""
    assert resumed["last_ok_at"] is not None


def _upload_seal(app: Flask, http: FlaskClient, bureau_id: int) -> None:
    with app.app_context():
        bureau = db.session.get(Bureau, bureau_id)
        assert bureau is not None
        seal = testkit.seal_certificate("Biuro Rachunkowe Test", bureau.nip)
    uploaded = http.post(
        f"/api/v1/bureaus/{bureau_id}/ksef/seal?format=pem",
        data=seal.private_key_pem + seal.certificate_pem,
        content_type="application/x-pem-file",
        headers={"X-Requested-With": "test"},
    )
    assert uploaded.status_code == 201, uploaded.json


def _bureau_nip(app: Flask, bureau_id: int) -> str:
    with app.app_context():
        bureau = db.session.get(Bureau, bureau_id)
        assert bureau is not None
        return bureau.nip


def test_bureau_passes_delegable_rights_on_to_its_accountant_in_its_own_context(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    client, bureau = client_nip(app, client_id), _bureau_nip(app, w.bureau_id)
    sandbox_grant(
        sandbox_store(ksef_sandbox),
        kind="entity",
        context_nip=client,
        grantee_type="Nip",
        grantee_value=bureau,
        permissions=["InvoiceRead", "InvoiceWrite"],
        can_delegate=True,
    )
    admin = signed_in(app, w.admin_email)
    _upload_seal(app, admin, w.bureau_id)
    body = {
        "client_id": client_id,
        "identifier": PESEL,
        "name": "Ewa Nowak",
        "rights": ["InvoiceWrite"],
    }
    made = admin.post(f"/api/v1/bureaus/{w.bureau_id}/grants", json=body)
    assert made.status_code == 202, made.json
    settle()
    assert _state(admin, client_id, made.json["id"])["state"] == "active"
    with sandbox_store(ksef_sandbox).session() as s:
        [held] = s.scalars(
            select(KsefGrant).where(
                KsefGrant.kind == "indirect",
                KsefGrant.grantee_value == PESEL,
                KsefGrant.context_value == bureau,
            )
        ).all()
        assert (held.context_value, held.target_value, held.permission) == (
            bureau,
            client,
            "InvoiceWrite",
        )
    assert admin.delete(f"/api/v1/clients/{client_id}/grants/{made.json['id']}").status_code == 202
    settle()
    assert _state(admin, client_id, made.json["id"])["state"] == "revoked"
    with sandbox_store(ksef_sandbox).session() as s:
        revoked = s.scalar(
            select(KsefGrant.revoked_at).where(
                KsefGrant.kind == "indirect", KsefGrant.context_value == bureau
            )
        )
        assert revoked is not None


def test_rights_the_client_did_not_let_the_bureau_pass_on_are_refused_by_ksef(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    sandbox_grant(
        sandbox_store(ksef_sandbox),
        kind="entity",
        context_nip=client_nip(app, client_id),
        grantee_type="Nip",
        grantee_value=_bureau_nip(app, w.bureau_id),
        permissions=["InvoiceRead"],
        can_delegate=False,
    )
    admin = signed_in(app, w.admin_email)
    _upload_seal(app, admin, w.bureau_id)
    body = {
        "client_id": client_id,
        "identifier": PESEL,
        "name": "Ewa Nowak",
        "rights": ["InvoiceRead"],
    }
    made = admin.post(f"/api/v1/bureaus/{w.bureau_id}/grants", json=body)
    settle()
    failed = _state(admin, client_id, made.json["id"])
    assert failed["state"] == "failed"
    assert "delegate" in failed["error"]
    accountant = signed_in(app, w.accountant_email)
    assert accountant.post(f"/api/v1/bureaus/{w.bureau_id}/grants", json=body).status_code == 403


def test_indirect_grant_without_a_bureau_seal_fails_saying_so(
    app: Flask, make_world: Callable[..., World], settle: Callable[[], int]
) -> None:
    w = make_world()
    admin = signed_in(app, w.admin_email)
    body = {
        "client_id": w.client_ids[0],
        "identifier": PESEL,
        "name": "Ewa Nowak",
        "rights": ["InvoiceRead"],
    }
    made = admin.post(f"/api/v1/bureaus/{w.bureau_id}/grants", json=body)
    assert made.status_code == 202
    settle()
    failed = _state(admin, w.client_ids[0], made.json["id"])
    assert failed["state"] == "failed"
    assert "seal" in failed["error"]


def test_ksef_page_grants_and_shows_a_readable_error(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    owner = signed_in(app, w.client_admin_email)
    page = owner.get(f"/clients/{client_id}/ksef")
    assert page.status_code == 200
    assert page.text.count("Who may read or send") == 1
    assert "<title>KSeF access · Client" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "action": "grant",
        "kind": "person",
        "name": "Ewa Nowak",
        "rights": ["InvoiceRead", "InvoiceWrite"],
    }
    bad = owner.post(f"/clients/{client_id}/ksef", data={**form, "identifier": "12345"})
    assert bad.status_code == 422
    assert "PESEL" in bad.text
    good = owner.post(f"/clients/{client_id}/ksef", data={**form, "identifier": PESEL})
    assert good.status_code == 303  # a reload does not grant again
    shown = owner.get(good.headers["Location"])
    assert "on its way to KSeF" in shown.text
    assert "Being granted" in shown.text
