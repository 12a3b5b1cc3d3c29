"""The one-time password-setup token stays out of every URL a server sees and out of the
outbox in clear; only its hash is stored."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from integration.accounts.models import UserAccount
from integration.core.db import db
from integration.mail.models import MailOutbox
from tests.conftest import World, setup_link, signed_in


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _invite(app: Flask, w: World, run_jobs: Callable[[], int], email: str) -> None:
    admin = signed_in(app, w.admin_email)
    made = admin.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": email, "first_name": "Ola", "last_name": "Nowa", "role": "accountant"},
    )
    assert made.status_code == 201, made.json
    assert run_jobs() == 1


def test_the_setup_token_travels_after_the_hash_and_never_in_a_url_the_server_sees(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    w = make_world()
    _invite(app, w, run_jobs, "ola@x.example")
    link = setup_link(app, "ola@x.example")
    address, token = link.split("#", 1)
    assert "token" not in address
    assert token not in address
    browser = app.test_client()
    seen: list[str] = []
    page = browser.get(address.removeprefix("http://127.0.0.1:8000"))
    seen.append(page.request.url)
    assert page.status_code == 200
    assert 'src="/static/delegat.js"' in page.text
    done = browser.post(
        "/setup-password",
        data={"token": token, "password": "a long new password", "csrf_token": _csrf(page.text)},
    )
    seen.append(done.request.url)
    assert done.status_code == 303
    assert all(token not in url for url in seen)
    login = browser.post(
        "/api/v1/auth/login", json={"email": "ola@x.example", "password": "a long new password"}
    )
    assert login.status_code == 204


def test_the_outbox_keeps_no_setup_token_in_clear_and_the_account_only_its_hash(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    w = make_world()
    _invite(app, w, run_jobs, "ola@x.example")
    token = setup_link(app, "ola@x.example").split("#", 1)[1]
    with app.app_context():
        dump = " ".join(
            str(value)
            for table in ("mail_outbox", "user_account")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            for value in row
        )
        row = db.session.scalar(select(MailOutbox))
        user = db.session.scalar(select(UserAccount).where(UserAccount.email == "ola@x.example"))
    assert token not in dump
    assert row is not None
    assert "[…]" in row.body
    assert user is not None
    assert user.setup_token_hash is not None


def test_a_link_of_an_older_email_is_taken_into_the_session_and_the_address_cleaned(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    w = make_world()
    _invite(app, w, run_jobs, "ola@x.example")
    token = setup_link(app, "ola@x.example").split("#", 1)[1]
    browser: FlaskClient = app.test_client()
    moved = browser.get(f"/setup-password?token={token}")
    assert moved.status_code == 303
    assert moved.headers["Location"] == "/setup-password"
    page = browser.get("/setup-password")
    assert 'id="token"' not in page.text  # the code is known; no field asks for it
    done = browser.post(
        "/setup-password", data={"password": "a long new password", "csrf_token": _csrf(page.text)}
    )
    assert done.status_code == 303
