"""A self-hosted installation checks its registration key at start and works only as it
allows: read-only without one, the modules and seats it names with one."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import delete

from integration.core.db import db
from integration.core.settings import Settings
from integration.licensing import installation
from integration.licensing.models import Installation
from tests.conftest import World, signed_in
from tests.licensing.test_activation_and_trials import PUBLIC_KEY, _contract, _licensee

VERIFY_KEY = base64.urlsafe_b64encode(PUBLIC_KEY).decode().rstrip("=")


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    installation.forget()
    yield
    installation.forget()


def _installation(
    settings: Settings, make_app: Callable[..., Flask], registration_key: str | None = None
) -> Flask:
    return make_app(
        settings.replace(
            platform_verify_key=VERIFY_KEY,
            licensee_nip="5260250274",
            installation_modules="ksef_sending,cost_sync",
            installation_seats=1,
            registration_key=registration_key,
        )
    )


def _registration_key(app: Flask, platform_admin: str, inst: Flask) -> str:
    with inst.app_context():
        key = installation.this_installation_key()
    licensee = _licensee(
        app,
        _contract(signed_in(app, platform_admin), modules=["ksef_sending", "cost_sync"], seats=1),
    )
    answer = licensee.post("/api/v1/activation", json={"installation_key": key})
    assert answer.status_code == 200, answer.json
    return str(answer.json["registration_key"])


def test_without_a_registration_key_the_installation_is_read_only_and_says_why(
    settings: Settings, make_app: Callable[..., Flask], make_world: Callable[..., World]
) -> None:
    w = make_world()
    inst = _installation(settings, make_app)
    http = signed_in(inst, w.admin_email)
    refused = http.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Nowa"})
    assert refused.status_code == 409
    assert refused.json["type"].endswith("installation-not-activated")
    assert "DELEGAT_REGISTRATION_KEY" in refused.json["detail"]
    assert http.get(f"/api/v1/clients/{w.client_ids[0]}").status_code == 200  # still readable
    panel = http.get(f"/api/v1/bureaus/{w.bureau_id}/licence").json
    assert panel["installation"]["active"] is False
    assert panel["installation"]["self_hosted"] is True


def test_an_activated_installation_works_within_the_keys_modules_and_seats(
    app: Flask,
    settings: Settings,
    make_app: Callable[..., Flask],
    make_world: Callable[..., World],
    make_token: Callable[..., str],
    platform_admin: str,
) -> None:
    w = make_world()
    registration = _registration_key(app, platform_admin, _installation(settings, make_app))
    installation.forget()
    inst = _installation(settings, make_app, registration)
    http = signed_in(inst, w.admin_email)
    assert (
        http.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Nowa"}).status_code == 200
    )
    panel = http.get(f"/api/v1/bureaus/{w.bureau_id}/licence").json
    assert panel["installation"] == {
        "self_hosted": True,
        "active": True,
        "modules": ["ksef_sending", "cost_sync"],
        "seats": 1,
        "reason": None,
    }
    assert panel["seats"] == 1
    first = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/registration", json={"action": "register"}
    )
    assert first.status_code == 200, first.json
    second = http.post(
        f"/api/v1/clients/{w.client_ids[1]}/registration", json={"action": "register"}
    )
    assert second.status_code == 409  # the key names one seat
    token = make_token(bureau_id=w.bureau_id)
    machine = inst.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert machine.status_code == 403  # API access is not among the key's modules
    assert machine.json["module"] == "api_access"


def test_a_registration_key_of_another_installation_leaves_this_one_read_only(
    app: Flask,
    settings: Settings,
    make_app: Callable[..., Flask],
    make_world: Callable[..., World],
    platform_admin: str,
) -> None:
    w = make_world()
    registration = _registration_key(app, platform_admin, _installation(settings, make_app))
    with app.app_context():  # the database of another workplace: another identity
        db.session.execute(delete(Installation))
        db.session.commit()
    installation.forget()
    inst = _installation(settings, make_app, registration)
    http = signed_in(inst, w.admin_email)
    refused = http.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Nowa"})
    assert refused.status_code == 409
    assert "another installation" in refused.json["detail"]
