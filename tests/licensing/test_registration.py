"""Client registration against the licence: the 60-day grace, seats, read-only writes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.actor import Actor
from integration.core import clock
from integration.core.db import db
from integration.licensing import service as licensing
from integration.licensing.models import ClientRegistration
from tests.conftest import World, signed_in


def _licence(app: Flask, bureau_id: int, seats: int) -> str:
    with app.app_context():
        lic = licensing.issue_licence(
            Actor(is_platform_admin=True), kind="application", plan="biuro", seats=seats
        )
        return lic.number


def _licensed(
    app: Flask, make_world: Callable[..., World], seats: int
) -> tuple[World, FlaskClient]:
    """A world whose bureau admin entered a licence with ``seats`` seats."""
    w = make_world()
    http = signed_in(app, w.admin_email)
    entered = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/licence",
        json={"number": _licence(app, w.bureau_id, seats=seats)},
    )
    assert entered.status_code == 200, entered.json
    return w, http


def _new_client(http: FlaskClient, bureau_id: int, nip: str) -> dict:  # type: ignore[type-arg]
    r = http.post(f"/api/v1/bureaus/{bureau_id}/clients", json={"nip": nip, "name": "Nowy"})
    assert r.status_code == 201, r.json
    return r.json  # type: ignore[no-any-return]


def _write(http: FlaskClient, client_id: int) -> int:
    return http.patch(f"/api/v1/clients/{client_id}", json={"name": "Zmieniony"}).status_code


def test_new_client_offers_the_registration_prompt_with_60_days(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    created = _new_client(http, w.bureau_id, "1112223332")
    assert created["licence"]["prompt"] is True
    assert created["licence"]["state"] == "grace"
    assert created["licence"]["days_left"] == 60
    assert set(created["licence"]["actions"]) == {"register", "remind_later", "do_not_register"}


def test_day_59_writable_day_60_read_only_but_still_readable(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    client_id = _new_client(http, w.bureau_id, "1112223332")["id"]
    frozen.advance(timedelta(days=59))
    http = signed_in(app, w.admin_email)  # a session lasts 12 hours
    assert _write(http, client_id) == 200
    assert http.get(f"/api/v1/clients/{client_id}").json["licence"]["days_left"] == 1
    frozen.advance(timedelta(days=1))
    http = signed_in(app, w.admin_email)
    refused = http.patch(f"/api/v1/clients/{client_id}", json={"name": "X"})
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("/client-read-only")
    assert "register" in refused.json["how_to_lift"]
    read = http.get(f"/api/v1/clients/{client_id}")
    assert read.status_code == 200
    assert read.json["licence"]["state"] == "read_only"
    # people of a read-only client cannot be changed either
    r = http.post(
        f"/api/v1/clients/{client_id}/users",
        json={"email": "n@x.example", "first_name": "N", "last_name": "N", "role": "client_user"},
    )
    assert r.status_code == 409


def test_remind_me_later_restarts_the_60_days(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    client_id = _new_client(http, w.bureau_id, "1112223332")["id"]
    frozen.advance(timedelta(days=50))
    http = signed_in(app, w.admin_email)  # a session lasts 12 hours
    r = http.post(f"/api/v1/clients/{client_id}/registration", json={"action": "remind_later"})
    assert r.json["days_left"] == 60
    frozen.advance(timedelta(days=59))
    http = signed_in(app, w.admin_email)
    assert _write(http, client_id) == 200
    frozen.advance(timedelta(days=1))
    http = signed_in(app, w.admin_email)
    assert _write(http, client_id) == 409


def test_do_not_register_is_read_only_at_once_and_frees_the_seat(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w, http = _licensed(app, make_world, seats=1)
    first = _new_client(http, w.bureau_id, "1112223332")["id"]
    second = _new_client(http, w.bureau_id, "2223334443")["id"]
    assert (
        http.post(
            f"/api/v1/clients/{first}/registration",
            json={"action": "register", "display_name": "Pierwszy"},
        ).status_code
        == 200
    )
    full = http.post(f"/api/v1/clients/{second}/registration", json={"action": "register"})
    assert full.status_code == 409
    assert full.json["type"].endswith("/seats-exhausted")
    assert (full.json["seats"], full.json["registered"]) == (1, 1)

    declined = http.post(
        f"/api/v1/clients/{first}/registration", json={"action": "do_not_register"}
    )
    assert declined.json["state"] == "read_only"
    assert _write(http, first) == 409
    assert (
        http.post(f"/api/v1/clients/{second}/registration", json={"action": "register"}).status_code
        == 200
    )
    # registering again later restores writing, when a seat is free
    assert (
        http.post(
            f"/api/v1/clients/{second}/registration", json={"action": "do_not_register"}
        ).status_code
        == 200
    )
    assert (
        http.post(f"/api/v1/clients/{first}/registration", json={"action": "register"}).json[
            "state"
        ]
        == "registered"
    )
    assert _write(http, first) == 200


def test_registration_restores_writes_after_the_grace_ran_out(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w, http = _licensed(app, make_world, seats=5)
    client_id = _new_client(http, w.bureau_id, "1112223332")["id"]
    frozen.advance(timedelta(days=61))
    http = signed_in(app, w.admin_email)  # a session lasts 12 hours
    assert _write(http, client_id) == 409
    assert (
        http.post(
            f"/api/v1/clients/{client_id}/registration", json={"action": "register"}
        ).status_code
        == 200
    )
    assert _write(http, client_id) == 200


def test_licence_panel_summarises_seats_and_prompts_for_a_number(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    before = http.get(f"/api/v1/bureaus/{w.bureau_id}/licence").json
    assert before["needs_licence_number"] is True
    assert before["seats"] == 0
    wrong = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/licence", json={"number": "24G70-68007-H40G0-XKSA3-7EFR4"}
    )
    assert wrong.status_code == 422
    assert wrong.json["errors"][0]["field"] == "number"
    number = _licence(app, w.bureau_id, seats=3)
    panel = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/licence", json={"number": number.lower()}
    ).json
    assert panel["needs_licence_number"] is False
    assert (panel["seats"], panel["clients"], panel["registered"]) == (3, 2, 0)
    assert panel["active"] == 2
    assert http.post(f"/api/v1/bureaus/{w.bureau_id}/licence/check", json={}).json["seats"] == 3


def test_accountant_cannot_register_clients(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    r = http.post(f"/api/v1/clients/{w.client_ids[0]}/registration", json={"action": "register"})
    assert r.status_code == 403


def test_daily_job_records_grace_expiry(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w = make_world()
    frozen.advance(timedelta(days=61))
    with app.app_context():
        result = licensing.apply_deadlines()
        assert result["read_only"] == 2
        rows = db.session.scalars(select(ClientRegistration)).all()
        assert {r.client_id for r in rows if r.read_only_since} == set(w.client_ids)
        assert licensing.apply_deadlines()["read_only"] == 0


def test_register_now_answers_with_the_seat_summary(
    app: Flask, frozen: clock.FrozenClock, make_world: Callable[..., World]
) -> None:
    w, http = _licensed(app, make_world, seats=3)
    client_id = _new_client(http, w.bureau_id, "1112223332")["id"]
    done = http.post(
        f"/api/v1/clients/{client_id}/registration",
        json={"action": "register", "display_name": "Nowy Klient"},
    ).json
    assert done["display_name"] == "Nowy Klient"
    # three clients (two of the world, one new), one registered, all writable in the grace
    assert done["summary"] == {"seats": 3, "registered": 1, "active": 3, "clients": 3}
    page = signed_in(app, w.admin_email)
    form = page.get("/login")  # any page, for the form token
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    other = w.client_ids[0]
    answer = page.post(
        f"/clients/{other}/registration",
        data={"csrf_token": token.group(1), "action": "register", "display_name": "Klient"},
        follow_redirects=True,
    )
    assert "Seats in the licence: 3; clients registered: 2" in answer.text
