"""Modules of the licence: what the bureau did not buy is refused with a 403 naming it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from integration.accounts.actor import SYSTEM
from integration.accounts.models import ClientCompany
from integration.core.db import db
from integration.ksef_sandbox import testkit
from integration.licensing import service as licensing
from tests.conftest import World, signed_in


def _licence(app: Flask, bureau_id: int, plan: str, modules: list[str] | None = None) -> None:
    with app.app_context():
        licensing.issue_licence(
            SYSTEM, kind="application", plan=plan, seats=10, modules=modules, bureau_id=bureau_id
        )


def _invoice(app: Flask, client_id: int) -> bytes:
    with app.app_context():
        client = db.session.get(ClientCompany, client_id)
        assert client is not None
        nip = client.nip
    return testkit.fa3_invoice(
        seller_nip=nip, buyer_nip="7740001454", number="M/1", issue_date=dt.date(2026, 11, 2)
    )


def _send(http, client_id: int, xml: bytes):  # type: ignore[no-untyped-def]
    return http.post(
        f"/api/v1/clients/{client_id}/invoices",
        data=xml,
        content_type="application/xml",
        headers={"X-Requested-With": "test"},
    )


def test_sending_without_the_ksef_sending_module_is_refused_naming_it(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _licence(app, w.bureau_id, "start", modules=["cost_sync"])
    response = _send(
        signed_in(app, w.accountant_email), w.client_ids[0], _invoice(app, w.client_ids[0])
    )
    assert response.status_code == 403
    assert response.json["type"].endswith("module-not-licensed")
    assert response.json["module"] == "ksef_sending"
    assert "licence panel" in response.json["detail"]


def test_cost_download_needs_the_cost_sync_module(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    assert http.post(f"/api/v1/clients/{w.client_ids[0]}/invoices/sync", json={}).status_code == 202
    _licence(app, w.bureau_id, "start", modules=["ksef_sending"])
    refused = http.post(f"/api/v1/clients/{w.client_ids[0]}/invoices/sync", json={})
    assert refused.status_code == 403
    assert refused.json["module"] == "cost_sync"


def test_client_self_service_needs_its_module_even_when_the_bureau_allows_it(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    _licence(app, w.bureau_id, "start")  # sending and cost sync, no self-service
    bureau = signed_in(app, w.admin_email)
    assert (
        bureau.patch(f"/api/v1/clients/{client_id}", json={"client_may_send": True}).status_code
        == 200
    )
    owner = signed_in(app, w.client_admin_email)
    refused = _send(owner, client_id, _invoice(app, client_id))
    assert refused.status_code == 403
    assert refused.json["module"] == "client_self_service"


def test_api_tokens_work_only_with_the_api_access_module(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id)
    http = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/bureaus/{w.bureau_id}/clients"
    assert http.get(url, headers=auth).status_code == 200  # no licence yet: the grace
    _licence(app, w.bureau_id, "biuro")  # no API access in this plan
    refused = http.get(url, headers=auth)
    assert refused.status_code == 403
    assert refused.json["module"] == "api_access"
    _licence(app, w.bureau_id, "enterprise")
    assert http.get(url, headers=auth).status_code == 200
