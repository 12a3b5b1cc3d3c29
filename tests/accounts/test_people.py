"""Managing people: roles, the last admin, duplicates, deactivation and sign-in."""

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import UserAccount
from integration.core.db import db
from tests.conftest import PASSWORD, World


def _user_id(app: Flask, email: str) -> int:
    with app.app_context():
        uid = db.session.scalar(select(UserAccount.id).where(UserAccount.email == email))
    assert uid is not None
    return uid


def test_the_last_bureau_admin_cannot_be_demoted(
    app: Flask, make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    admin_id = _user_id(app, w.admin_email)
    r = login(w.admin_email).patch(
        f"/api/v1/bureaus/{w.bureau_id}/users/{admin_id}", json={"role": "accountant"}
    )
    assert r.status_code == 409
    assert "at least one admin" in r.json["detail"]


def test_admin_promotes_an_accountant_then_steps_down(
    app: Flask, make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.admin_email)
    acc_id, admin_id = _user_id(app, w.accountant_email), _user_id(app, w.admin_email)
    assert (
        http.patch(
            f"/api/v1/bureaus/{w.bureau_id}/users/{acc_id}", json={"role": "bureau_admin"}
        ).json["role"]
        == "bureau_admin"
    )
    assert (
        http.patch(
            f"/api/v1/bureaus/{w.bureau_id}/users/{admin_id}", json={"role": "accountant"}
        ).json["role"]
        == "accountant"
    )


def test_client_roles_cannot_be_given_in_a_bureau(
    make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    r = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": "c@x.example", "first_name": "C", "last_name": "X", "role": "client_admin"},
    )
    assert r.status_code == 422
    assert r.json["errors"][0]["field"] == "role"


def test_client_admin_adds_a_client_user_to_own_company(
    make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.client_admin_email)
    r = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/users",
        json={
            "email": "clerk@c.example",
            "first_name": "C",
            "last_name": "K",
            "role": "client_user",
            "pesel": "44051401359",
        },
    )
    assert r.status_code == 201
    assert r.json["pesel"] == "44051401359"
    listed = http.get(f"/api/v1/clients/{w.client_ids[0]}/users").json
    assert sorted(u["email"] for u in listed["items"]) == ["clerk@c.example", w.client_admin_email]


def test_duplicate_email_and_pesel_are_409_naming_the_field(
    make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.admin_email)
    base = {"first_name": "A", "last_name": "B", "role": "accountant"}
    first = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={**base, "email": "p@x.example", "pesel": "44051401359"},
    )
    assert first.status_code == 201
    email = http.post(f"/api/v1/bureaus/{w.bureau_id}/users", json={**base, "email": "P@X.example"})
    pesel = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={**base, "email": "q@x.example", "pesel": "44051401359"},
    )
    assert (email.status_code, email.json["field"]) == (409, "email")
    assert (pesel.status_code, pesel.json["field"]) == (409, "pesel")


def test_deactivated_user_can_no_longer_sign_in_or_use_the_session(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    accountant = app.test_client()
    assert (
        accountant.post(
            "/api/v1/auth/login", json={"email": w.accountant_email, "password": PASSWORD}
        ).status_code
        == 204
    )
    admin = app.test_client()
    admin.post("/api/v1/auth/login", json={"email": w.admin_email, "password": PASSWORD})
    acc_id = _user_id(app, w.accountant_email)
    assert (
        admin.patch(
            f"/api/v1/bureaus/{w.bureau_id}/users/{acc_id}", json={"is_active": False}
        ).status_code
        == 200
    )
    assert accountant.get("/api/v1/me").status_code == 401
    assert (
        app.test_client()
        .post("/api/v1/auth/login", json={"email": w.accountant_email, "password": PASSWORD})
        .status_code
        == 401
    )


def test_wrong_password_is_401_and_sets_no_session(
    client: FlaskClient, make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = client.post("/api/v1/auth/login", json={"email": w.admin_email, "password": "nope"})
    assert r.status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_password_is_stored_as_an_argon2_hash(
    app: Flask, make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.admin_email)
    new = "a brand new passphrase"
    assert (
        http.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": new}
        ).status_code
        == 204
    )
    with app.app_context():
        stored = db.session.scalar(
            select(UserAccount.password_hash).where(UserAccount.email == w.admin_email)
        )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert new not in stored


def test_platform_admin_creates_a_bureau_and_others_cannot(
    platform_admin: str, make_world: Callable[..., World], app: Flask
) -> None:
    root = app.test_client()
    root.post("/api/v1/auth/login", json={"email": platform_admin, "password": PASSWORD})
    created = root.post("/api/v1/bureaus", json={"nip": "777-000-11-11", "name": "Nowe Biuro"})
    assert created.status_code == 201
    assert created.json["nip"] == "7770001111"
    w = make_world()
    other = app.test_client()
    other.post("/api/v1/auth/login", json={"email": w.admin_email, "password": PASSWORD})
    assert other.post("/api/v1/bureaus", json={"nip": "1112223332", "name": "X"}).status_code == 403
