"""Signed-in sessions live in the database: signing out, a password change elsewhere and
deactivation end them, whatever copy of the cookie is still around."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import UserAccount, UserSession
from integration.core import clock
from integration.core.db import db
from tests.conftest import PASSWORD, World, signed_in


def _copy(app: Flask, http: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``http``'s session cookie."""
    cookie = http.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_cookie_copied_before_sign_out_no_longer_works(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    copy = _copy(app, http)
    assert copy.get("/api/v1/me").status_code == 200
    assert http.post("/api/v1/auth/logout", json={}).status_code == 204
    assert copy.get("/api/v1/me").status_code == 401
    assert copy.get("/", headers={"Accept": "text/html"}).status_code == 302  # to sign-in


def test_signing_out_on_the_page_ends_the_session_too(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    copy = _copy(app, http)
    page = http.get("/")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert http.post("/logout", data={"csrf_token": token}).status_code == 303
    assert copy.get("/api/v1/me").status_code == 401


def test_a_password_change_ends_the_other_sessions_but_not_this_one(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    laptop, phone = signed_in(app, w.admin_email), signed_in(app, w.admin_email)
    changed = laptop.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
    )
    assert changed.status_code == 204
    assert laptop.get("/api/v1/me").status_code == 200
    assert phone.get("/api/v1/me").status_code == 401


def test_deactivation_ends_sessions_for_good(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    victim = signed_in(app, w.accountant_email)
    admin = signed_in(app, w.admin_email)
    with app.app_context():
        user_id = db.session.scalar(
            select(UserAccount.id).where(UserAccount.email == w.accountant_email)
        )
    url = f"/api/v1/bureaus/{w.bureau_id}/users/{user_id}"
    assert admin.patch(url, json={"is_active": False}).status_code == 200
    assert victim.get("/api/v1/me").status_code == 401
    assert admin.patch(url, json={"is_active": True}).status_code == 200
    assert victim.get("/api/v1/me").status_code == 401  # reactivation revives nothing
    assert signed_in(app, w.accountant_email).get("/api/v1/me").status_code == 200


def test_a_session_expires_after_twelve_hours_and_only_its_hash_is_stored(
    app: Flask, make_world: Callable[..., World], frozen: clock.FrozenClock
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    cookie = http.get_cookie("session")
    assert cookie is not None
    with app.app_context():
        row = db.session.scalar(select(UserSession))
        assert row is not None
        assert len(row.token_hash) == 64
        assert row.token_hash not in cookie.value
        assert row.address == "127.0.0.1"
    frozen.advance(timedelta(hours=11, minutes=59))
    assert http.get("/api/v1/me").status_code == 200
    frozen.advance(timedelta(minutes=2))
    assert http.get("/api/v1/me").status_code == 401
