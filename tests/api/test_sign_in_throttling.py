"""Sign-in is throttled per account and per address (failed attempts only), in Redis."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, World


def _api_login(http: FlaskClient, email: str, password: str, address: str = "10.0.0.1") -> int:
    r = http.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )
    return r.status_code


def test_an_account_is_locked_after_five_wrong_passwords_even_for_the_right_one(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = app.test_client()
    assert [_api_login(http, w.admin_email, "wrong") for _ in range(5)] == [401] * 5
    locked = http.post(
        "/api/v1/auth/login",
        json={"email": w.admin_email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # another address changes nothing
    )
    assert locked.status_code == 429
    assert locked.mimetype == "application/problem+json"
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.json["type"].endswith("too-many-attempts")
    # another person's account is not locked by it
    assert _api_login(http, w.accountant_email, PASSWORD) == 204


def test_an_address_is_locked_after_twenty_failures_across_accounts(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = app.test_client()
    codes = [_api_login(http, f"nobody{i}@x.example", "wrong", "10.9.9.9") for i in range(20)]
    assert codes == [401] * 20
    assert _api_login(http, w.admin_email, PASSWORD, "10.9.9.9") == 429
    assert _api_login(http, w.admin_email, PASSWORD, "10.9.9.8") == 204


def test_successful_sign_ins_do_not_count(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    http = app.test_client()
    assert [_api_login(http, w.admin_email, PASSWORD) for _ in range(8)] == [204] * 8


def test_the_page_and_the_api_share_the_lockout_and_the_page_says_so_in_polish(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = app.test_client()
    assert [_api_login(http, w.admin_email, "wrong") for _ in range(3)] == [401] * 3
    page = http.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    for expected in (401, 401, 429):
        r = http.post(
            "/login",
            data={"email": w.admin_email, "password": "wrong", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
            headers={"Accept-Language": "pl-PL,pl"},
        )
        assert r.status_code == expected
    assert "Zbyt wiele nieudanych prób logowania" in r.text
    assert int(r.headers["Retry-After"]) > 0
    assert w.admin_email in r.text  # the form keeps what was typed
