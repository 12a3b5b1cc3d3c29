"""Inviting a person who already has an account (another tenant's, perhaps) answers as for a
new address, tells the inviter nothing of the other tenant, and lets the person accept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from integration.core.db import db
from integration.mail import deliverable_body
from integration.mail.models import MailOutbox
from tests.conftest import World, signed_in

PERSON = {"first_name": "Ewa", "last_name": "Zaproszona", "role": "accountant"}


def _invite(app: Flask, w: World, email: str) -> Any:
    return signed_in(app, w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users", json={"email": email, **PERSON}
    )


def _code(app: Flask, email: str) -> str:
    with app.app_context():
        row = db.session.scalar(
            select(MailOutbox).where(
                MailOutbox.recipient == email, MailOutbox.message_key.startswith("invitation:")
            )
        )
        assert row is not None
        body = deliverable_body(row)
    link = next(line for line in body.splitlines() if "/invitations#" in line)
    code = link.split("#", 1)[1]
    assert code not in row.body  # the outbox keeps the code blanked out in clear
    return code


def test_inviting_another_tenants_person_answers_as_for_a_new_address(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    a, b = make_world(), make_world()
    fresh = _invite(app, b, "nowa.osoba@x.example")
    known = _invite(app, b, a.accountant_email)
    assert (fresh.status_code, known.status_code) == (201, 201)
    drop = {"id", "email", "created_at"}
    assert {k: v for k, v in known.json.items() if k not in drop} == {
        k: v for k, v in fresh.json.items() if k not in drop
    }
    assert known.json["first_name"] == "Ewa"  # what was typed, not the person's own name
    assert known.json["has_password"] is False
    run_jobs()
    code = _code(app, a.accountant_email)
    person = signed_in(app, a.accountant_email)
    assert person.get(f"/api/v1/bureaus/{b.bureau_id}").status_code == 404  # not yet accepted
    accepted = person.post("/api/v1/invitations/accept", json={"token": code})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json == {"kind": "bureau", "id": b.bureau_id, "role": "accountant"}
    assert person.get(f"/api/v1/bureaus/{b.bureau_id}").status_code == 200
    assert person.get(f"/api/v1/bureaus/{a.bureau_id}").status_code == 200  # still theirs
    again = person.post("/api/v1/invitations/accept", json={"token": code})
    assert again.status_code == 422


def test_an_invitation_is_accepted_only_by_its_own_person(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    a, b = make_world(), make_world()
    assert _invite(app, b, a.accountant_email).status_code == 201
    run_jobs()
    code = _code(app, a.accountant_email)
    stranger = signed_in(app, a.admin_email)
    assert stranger.post("/api/v1/invitations/accept", json={"token": code}).status_code == 422
    assert stranger.get(f"/api/v1/bureaus/{b.bureau_id}").status_code == 404


def test_deactivation_in_one_tenant_leaves_the_persons_other_tenant_alone(
    app: Flask, make_world: Callable[..., World], run_jobs: Callable[[], int]
) -> None:
    a, b = make_world(), make_world()
    user_id = _invite(app, b, a.accountant_email).json["id"]
    run_jobs()
    person = signed_in(app, a.accountant_email)
    assert (
        person.post(
            "/api/v1/invitations/accept", json={"token": _code(app, a.accountant_email)}
        ).json["id"]
        == b.bureau_id
    )
    admin_b = signed_in(app, b.admin_email)
    off = admin_b.patch(f"/api/v1/bureaus/{b.bureau_id}/users/{user_id}", json={"is_active": False})
    assert off.status_code == 200
    assert off.json["is_active"] is False
    assert person.get(f"/api/v1/bureaus/{b.bureau_id}").status_code == 404
    assert person.get(f"/api/v1/bureaus/{a.bureau_id}").status_code == 200
    assert signed_in(app, a.accountant_email).get("/api/v1/me").status_code == 200


def test_inviting_someone_already_here_is_a_conflict(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    r = _invite(app, w, w.accountant_email)
    assert r.status_code == 409
    assert r.json["field"] == "email"
