"""Activation of self-hosted installations; trials and plans; deleting a trial account."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import Bureau, UserAccount
from integration.core import clock
from integration.core.db import db
from integration.licensing.activation import (
    InstallationRequest,
    RegistrationKeyInvalid,
    installation_fingerprint,
    installation_key,
    verify_registration_key,
)
from integration.licensing.models import Activation
from integration.licensing.numbers import Module
from integration.licensing.service import apply_deadlines
from integration.mail.models import MailOutbox
from tests.conftest import PASSWORD, SIGNING_SEED, World, setup_token, signed_in

PUBLIC_KEY = (
    Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(SIGNING_SEED + "="))
    .public_key()
    .public_bytes_raw()
)
FINGERPRINT = installation_fingerprint("machine-1", "postgresql://db/delegat")
MODULES = Module.KSEF_SENDING | Module.COST_SYNC


LICENSEE = "licencja@self-hosted.example"


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _contract(root: FlaskClient, *, modules: list[str], seats: int = 25, paid: bool = True) -> str:
    """A contract; the licensee's temporary password (or "" when the account existed)."""
    r = root.post(
        "/api/v1/platform/contracts",
        json={
            "licensee_nip": "5260250274",
            "licensee_name": "Biuro Self-Hosted",
            "licensee_email": LICENSEE,
            "modules": modules,
            "seats": seats,
            "paid": paid,
        },
    )
    assert r.status_code == 201, r.json
    return str(r.json["temporary_password"] or "")


def _licensee(app: Flask, temporary: str) -> FlaskClient:
    """The licensee signed in to the control panel, the temporary password changed."""
    http = app.test_client()
    signed = http.post("/api/v1/auth/login", json={"email": LICENSEE, "password": temporary})
    assert signed.status_code == 204
    changed = http.post(
        "/api/v1/auth/password",
        json={"current_password": temporary, "new_password": PASSWORD},
    )
    assert changed.status_code == 204, changed.json
    return http


def _key(modules: Module = MODULES, seats: int = 25, fingerprint: str = FINGERPRINT) -> str:
    return installation_key(InstallationRequest("5260250274", fingerprint, modules, seats))


def _activate(http: FlaskClient, modules: Module = MODULES, seats: int = 25) -> dict:  # type: ignore[type-arg]
    return http.post("/api/v1/activation", json={"installation_key": _key(modules, seats)}).json  # type: ignore[no-any-return]


def test_accepted_activation_yields_a_key_the_installation_verifies_offline(
    app: Flask, platform_admin: str
) -> None:
    root = signed_in(app, platform_admin)
    temporary = _contract(root, modules=["ksef_sending", "cost_sync", "batch_sending"])
    answer = _activate(_licensee(app, temporary))  # fewer modules than paid is fine
    payload = verify_registration_key(
        answer["registration_key"],
        public_key=PUBLIC_KEY,
        fingerprint=FINGERPRINT,
        modules=MODULES,
        seats=25,
    )
    assert payload["nip"] == "5260250274"


def test_registration_key_altered_or_moved_is_rejected(app: Flask, platform_admin: str) -> None:
    root = signed_in(app, platform_admin)
    temporary = _contract(root, modules=["ksef_sending", "cost_sync"])
    key = _activate(_licensee(app, temporary))["registration_key"]
    body, signature = key.split(".")
    padded = body + "=" * (-len(body) % 4)
    altered_body = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(padded).replace(b'"seats":25', b'"seats":99')
        )
        .decode()
        .rstrip("=")
    )
    with pytest.raises(RegistrationKeyInvalid, match="damaged"):
        verify_registration_key(
            f"{altered_body}.{signature}",
            public_key=PUBLIC_KEY,
            fingerprint=FINGERPRINT,
            modules=MODULES,
            seats=25,
        )
    with pytest.raises(RegistrationKeyInvalid, match="another installation"):
        verify_registration_key(
            key,
            public_key=PUBLIC_KEY,
            fingerprint=installation_fingerprint("machine-2"),
            modules=MODULES,
            seats=25,
        )
    with pytest.raises(RegistrationKeyInvalid, match="modules or seats"):
        verify_registration_key(
            key,
            public_key=PUBLIC_KEY,
            fingerprint=FINGERPRINT,
            modules=MODULES | Module.API_ACCESS,
            seats=25,
        )
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(RegistrationKeyInvalid, match="damaged"):
        verify_registration_key(
            key, public_key=other, fingerprint=FINGERPRINT, modules=MODULES, seats=25
        )


@pytest.mark.parametrize(
    ("contract", "request_modules", "seats", "reason"),
    [
        ({"modules": ["ksef_sending"]}, MODULES, 25, "modules-not-licensed"),
        ({"modules": ["ksef_sending", "cost_sync"]}, MODULES, 30, "seats-mismatch"),
        ({"modules": ["ksef_sending", "cost_sync"], "paid": False}, MODULES, 25, "unpaid"),
        (None, MODULES, 25, "unknown-licensee"),
    ],
)
def test_each_refusal_names_its_reason(
    app: Flask,
    platform_admin: str,
    contract: dict | None,
    request_modules: Module,  # type: ignore[type-arg]
    seats: int,
    reason: str,
) -> None:
    root = signed_in(app, platform_admin)
    if contract is not None:
        http = _licensee(app, _contract(root, **contract))
    else:  # a licensee of another company's contract
        other = root.post(
            "/api/v1/platform/contracts",
            json={
                "licensee_nip": "7740001454",
                "licensee_name": "Inne Biuro",
                "licensee_email": LICENSEE,
                "modules": ["ksef_sending"],
                "seats": 1,
                "paid": True,
            },
        )
        http = _licensee(app, other.json["temporary_password"])
    r = http.post("/api/v1/activation", json={"installation_key": _key(request_modules, seats)})
    assert r.status_code == 409
    assert r.json["reason"] == reason


def test_garbled_installation_key_is_422(app: Flask, platform_admin: str) -> None:
    http = _licensee(app, _contract(signed_in(app, platform_admin), modules=["ksef_sending"]))
    r = http.post("/api/v1/activation", json={"installation_key": "DLGI1.xx.00"})
    assert r.status_code == 422
    assert r.json["errors"][0]["field"] == "installation_key"


def test_activation_is_for_the_signed_in_licensee_only(app: Flask, platform_admin: str) -> None:
    _contract(signed_in(app, platform_admin), modules=["ksef_sending", "cost_sync"])
    r = app.test_client().post("/api/v1/activation", json={"installation_key": _key()})
    assert r.status_code == 401


def test_the_licensee_changes_the_given_password_before_anything_else(
    app: Flask, platform_admin: str
) -> None:
    temporary = _contract(signed_in(app, platform_admin), modules=["ksef_sending"])
    http = app.test_client()
    assert (
        http.post("/api/v1/auth/login", json={"email": LICENSEE, "password": temporary}).status_code
        == 204
    )
    refused = http.post("/api/v1/activation/check", json={"installation_key": _key()})
    assert refused.status_code == 403
    assert refused.json["type"].endswith("password-change-required")
    page = http.get("/platform/activation")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/password")
    same = http.post(
        "/api/v1/auth/password", json={"current_password": temporary, "new_password": temporary}
    )
    assert same.status_code == 422
    assert (
        http.post(
            "/api/v1/auth/password", json={"current_password": temporary, "new_password": PASSWORD}
        ).status_code
        == 204
    )
    assert (
        http.post("/api/v1/activation/check", json={"installation_key": _key()}).status_code == 200
    )


def test_check_shows_each_difference_and_generate_waits_until_there_is_none(
    app: Flask, platform_admin: str
) -> None:
    http = _licensee(
        app, _contract(signed_in(app, platform_admin), modules=["ksef_sending"], seats=25)
    )
    checked = http.post(
        "/api/v1/activation/check", json={"installation_key": _key(MODULES, seats=30)}
    ).json
    assert checked["may_generate"] is False
    by_field = {d["field"]: d for d in checked["differences"]}
    assert (by_field["seats"]["installation"], by_field["seats"]["contract"]) == ("30", "25")
    assert by_field["seats"]["ok"] is False
    assert by_field["modules"]["ok"] is False
    assert "cost_sync" in by_field["modules"]["installation"]
    assert by_field["licensee_nip"]["ok"] is True
    page = http.post(
        "/platform/activation",
        data={
            "installation_key": _key(MODULES, seats=30),
            "action": "check",
            "csrf_token": _csrf(http.get("/platform/activation").text),
        },
    )
    assert page.text.count('class="difference"') == 2
    assert "disabled" in page.text
    good = _key(Module.KSEF_SENDING, seats=25)
    assert http.post("/api/v1/activation/check", json={"installation_key": good}).json[
        "may_generate"
    ]
    assert http.post("/api/v1/activation", json={"installation_key": good}).status_code == 200


def test_one_activation_per_licensed_installation_and_another_workplace_is_refused(
    app: Flask, platform_admin: str
) -> None:
    http = _licensee(app, _contract(signed_in(app, platform_admin), modules=["ksef_sending"]))
    mine = _key(Module.KSEF_SENDING)
    first = http.post("/api/v1/activation", json={"installation_key": mine})
    again = http.post("/api/v1/activation", json={"installation_key": mine})
    assert first.status_code == again.status_code == 200
    assert first.json == again.json  # the same installation gets its key again
    elsewhere = _key(Module.KSEF_SENDING, fingerprint=installation_fingerprint("machine-9"))
    refused = http.post("/api/v1/activation", json={"installation_key": elsewhere})
    assert refused.status_code == 409
    assert refused.json["reason"] == "another-installation"
    assert "another installation" in refused.json["detail"]
    with app.app_context():
        assert db.session.query(Activation).count() == 1


def _sign_up(app: Flask, plan: str = "biuro") -> int:
    r = app.test_client().post(
        "/api/v1/trials",
        json={
            "bureau_nip": "5260250274",
            "bureau_name": "Biuro Próbne",
            "email": "trial@x.example",
            "first_name": "Tomasz",
            "last_name": "Tester",
            "plan": plan,
        },
    )
    assert r.status_code == 201, r.json
    return int(r.json["bureau_id"])


def test_trial_gives_the_plans_seats_for_30_days_then_read_only(
    app: Flask, frozen: clock.FrozenClock, run_jobs: Callable[[], int]
) -> None:
    bureau_id = _sign_up(app)
    run_jobs()  # the welcome e-mail with the password link
    with app.app_context():
        user = db.session.scalar(select(UserAccount).where(UserAccount.email == "trial@x.example"))
    token = setup_token(app, "trial@x.example")
    http = app.test_client()
    assert (
        http.post(
            "/api/v1/auth/password-setup", json={"token": token, "password": PASSWORD}
        ).status_code
        == 204
    )
    http = signed_in(app, "trial@x.example")
    panel = http.get(f"/api/v1/bureaus/{bureau_id}/licence").json
    assert panel["subscription"]["status"] == "trial"
    assert panel["seats"] == 20
    client = http.post(
        f"/api/v1/bureaus/{bureau_id}/clients", json={"nip": "1112223332", "name": "Klient"}
    ).json
    frozen.advance(timedelta(days=29))
    http = signed_in(app, "trial@x.example")  # a session lasts 12 hours
    assert http.patch(f"/api/v1/clients/{client['id']}", json={"name": "A"}).status_code == 200
    frozen.advance(timedelta(days=1))
    http = signed_in(app, "trial@x.example")
    ended = http.patch(f"/api/v1/clients/{client['id']}", json={"name": "B"})
    assert ended.status_code == 409
    assert ended.json["type"].endswith("/subscription-expired")
    assert http.get(f"/api/v1/clients/{client['id']}").status_code == 200
    assert user is not None


def test_trial_plan_is_changed_only_by_the_platform_admin(
    app: Flask, platform_admin: str, make_world: Callable[..., World]
) -> None:
    bureau_id = _sign_up(app, plan="start")
    w = make_world()
    other = signed_in(app, w.admin_email)
    assert (
        other.put(
            f"/api/v1/platform/bureaus/{bureau_id}/plan", json={"plan": "enterprise"}
        ).status_code
        == 403
    )
    root = signed_in(app, platform_admin)
    assert (
        root.put(
            f"/api/v1/platform/bureaus/{bureau_id}/plan", json={"plan": "enterprise"}
        ).status_code
        == 204
    )
    panel = root.get(f"/api/v1/bureaus/{bureau_id}/licence").json
    assert panel["subscription"]["plan"] == "enterprise"


def test_trial_account_is_deleted_only_after_its_data_was_exported(
    app: Flask, platform_admin: str
) -> None:
    bureau_id = _sign_up(app)
    root = signed_in(app, platform_admin)
    refused = root.delete(f"/api/v1/platform/bureaus/{bureau_id}")
    assert refused.status_code == 409
    assert "export" in refused.json["detail"]
    exported = root.get(f"/api/v1/bureaus/{bureau_id}/export")
    assert exported.status_code == 200
    assert exported.mimetype == "application/zip"
    assert root.delete(f"/api/v1/platform/bureaus/{bureau_id}").status_code == 204
    with app.app_context():
        assert db.session.get(Bureau, bureau_id) is None
        assert (
            db.session.scalar(select(UserAccount).where(UserAccount.email == "trial@x.example"))
            is None
        )


def test_support_licence_expiry_is_reminded_once(
    app: Flask, platform_admin: str, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    root = signed_in(app, platform_admin)
    issued = root.post(
        "/api/v1/platform/licences",
        json={"kind": "support", "plan": "biuro", "seats": 10, "bureau_id": w.bureau_id},
    )
    assert issued.status_code == 201
    perpetual = root.post(
        "/api/v1/platform/licences",
        json={"kind": "application", "plan": "biuro", "seats": 10, "bureau_id": w.bureau_id},
    )
    assert perpetual.status_code == 201
    frozen.advance(timedelta(days=340))
    with app.app_context():
        assert apply_deadlines()["support_reminders"] == 1
        assert apply_deadlines()["support_reminders"] == 0
        mail = db.session.scalar(select(MailOutbox).where(MailOutbox.recipient == w.admin_email))
    assert mail is not None
    assert mail.subject == "Licencja na wsparcie Delegata wkrótce wygasa"  # Polish by default
    admin = signed_in(app, w.admin_email)
    panel = admin.get(f"/api/v1/bureaus/{w.bureau_id}/licence").json
    assert (panel["support_expires_soon"], panel["support_expired"]) == (True, False)
    assert panel["needs_licence_number"] is False  # the application licence holds
    frozen.advance(timedelta(days=30))
    admin = signed_in(app, w.admin_email)  # a session lasts 12 hours
    panel = admin.get(f"/api/v1/bureaus/{w.bureau_id}/licence").json
    assert panel["support_expired"] is True
    assert panel["needs_licence_number"] is True
    assert "renewed support licence" in panel["licence_number_prompt"]
    assert "expired on" in admin.get(f"/bureaus/{w.bureau_id}/licence").text
