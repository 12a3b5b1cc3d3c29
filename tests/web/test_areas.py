"""Pages beyond the forms of test_pages: cooperation (who sends a client's invoices), the
platform admin's pages, the trial sign-up and the demo's mail page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integration.accounts.actor import Actor
from integration.accounts.models import Bureau
from integration.core.db import db
from integration.core.settings import Settings
from integration.licensing import service as licensing
from integration.mail.models import MailOutbox
from tests.conftest import PASSWORD, World


def _signed_in(client: FlaskClient, email: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]})
    signed = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/password").text)
    assert signed
    return signed[1]


def test_the_bureau_lets_a_client_send_and_the_client_admin_sees_it_but_cannot_change_it(
    client: FlaskClient, app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    c = w.client_ids[0]
    token = _signed_in(client, w.accountant_email)
    saved = client.post(
        f"/clients/{c}/settings",
        data={"csrf_token": token, "action": "scenario", "scenario": "client"},
        headers={"Accept-Language": "pl"},
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["Location"], headers={"Accept-Language": "pl"})
    assert "Klient może teraz sam wystawiać i wysyłać swoje faktury." in shown.text
    owner = app.test_client()
    token = _signed_in(owner, w.client_admin_email)
    page = owner.get(f"/clients/{c}/settings", headers={"Accept-Language": "pl"})
    assert "Twoja firma sama wystawia i wysyła faktury" in page.text
    assert 'name="scenario"' not in page.text  # the bureau decides
    refused = owner.post(
        f"/clients/{c}/settings",
        data={"csrf_token": token, "action": "scenario", "scenario": "bureau"},
        headers={"Accept-Language": "pl"},
    )
    assert refused.status_code == 422
    invoices = owner.get(f"/clients/{c}/invoices", headers={"Accept-Language": "pl"})
    assert 'id="invoice-file"' in invoices.text  # now it may send


def test_the_platform_admin_tops_up_a_package_and_a_bad_amount_stays_beside_its_field(
    client: FlaskClient, make_world: Callable[..., World], platform_admin: str
) -> None:
    w = make_world()
    token = _signed_in(client, platform_admin)
    assert client.get("/").headers["Location"] == "/platform"
    bad = client.post(
        "/platform",
        data={"csrf_token": token, "action": "top_up", "bureau_id": w.bureau_id,
              "amount": "zero", "reference": "FV 1/2026"},
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'value="FV 1/2026"' in bad.text
    assert 'id="tu-amount-error"' in bad.text
    done = client.post(
        "/platform",
        data={"csrf_token": token, "action": "top_up", "bureau_id": w.bureau_id,
              "amount": "250", "reference": "FV 1/2026"},
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert done.status_code == 303
    assert "250 operations left" in client.get("/platform", headers={"Accept-Language": "en"}).text


def test_only_the_platform_admin_sees_the_platform_pages(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    _signed_in(client, w.admin_email)
    assert client.get("/platform", headers={"Accept": "text/html"}).status_code == 403


def test_a_trial_sign_up_keeps_what_was_typed_on_an_error_and_mails_the_link(
    client: FlaskClient, app: Flask, run_jobs: Callable[[], int]
) -> None:
    form = client.get("/trial")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    data = {"csrf_token": token[1], "bureau_name": "Biuro Rachunkowe Saldo",
            "bureau_nip": "1234567890", "first_name": "Ola", "last_name": "Nowak",
            "email": "ola@saldo.example", "plan": "biuro_pro"}  # fmt: skip
    bad = client.post("/trial", data=data)
    assert bad.status_code == 422
    assert 'value="Biuro Rachunkowe Saldo"' in bad.text
    assert 'value="biuro_pro" checked' in bad.text
    good = client.post("/trial", data={**data, "bureau_nip": "111-222-33-32"})
    assert good.status_code == 303
    run_jobs()
    with app.app_context():
        assert db.session.query(MailOutbox).filter_by(recipient="ola@saldo.example").count() == 1


@pytest.mark.parametrize("shown", [False, True])
def test_the_mail_page_exists_only_when_the_outbox_is_to_be_shown(
    make_app: Callable[..., Flask], app: Flask, settings: Settings, shown: bool
) -> None:
    other = make_app(settings.replace(show_outbox=shown))
    page = other.test_client().get("/mail", headers={"Accept": "text/html"})
    assert page.status_code == (200 if shown else 404)


def test_the_platform_admin_changes_a_trial_s_plan_and_deletes_it_only_after_its_export(
    client: FlaskClient, app: Flask, platform_admin: str, run_jobs: Callable[[], int]
) -> None:
    with app.app_context():
        trial = licensing.start_trial(
            bureau_nip="111-222-33-32", bureau_name="Biuro Próbne", email="p@probne.example",
            first_name="P", last_name="R", plan="start",
        )  # fmt: skip
        bureau_id = trial.id
    token = _signed_in(client, platform_admin)
    home = client.get("/platform", headers={"Accept-Language": "pl"})
    row = home.text.split(f'id="bureau-{bureau_id}"')[1].split("</tr>")[0]
    assert "okres próbny: zostało 29 dni" in row or "okres próbny: zostało 30 dni" in row
    assert "data-confirm=" in row
    assert "disabled" in row  # not exported yet: cannot delete
    changed = client.post(
        "/platform",
        data={"csrf_token": token, "action": "plan", "bureau_id": bureau_id, "plan": "biuro_pro"},
        headers={"Accept-Language": "pl"},
    )
    assert changed.status_code == 303
    refused = client.post(
        "/platform",
        data={"csrf_token": token, "action": "delete_trial", "bureau_id": bureau_id},
        headers={"Accept-Language": "pl"},
    )
    assert refused.status_code == 422
    assert "przed usunięciem konta wyeksportuj dane biura" in refused.text
    with app.app_context():
        assert db.session.get(Bureau, bureau_id) is not None
        plans = licensing.subscriptions(Actor(is_platform_admin=True), [bureau_id])
        assert plans[bureau_id].plan == "biuro_pro"
