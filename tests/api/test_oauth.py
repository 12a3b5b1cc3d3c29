"""Machine clients: client-credentials tokens, scopes, tenancy, revocation, expiry."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import ApiClient, ApiToken, Role
from integration.core import clock
from integration.core.db import db
from tests.conftest import World


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_creates_api_client_and_it_obtains_a_working_token(
    app: Flask,
    client: FlaskClient,
    make_world: Callable[..., World],
    login: Callable[[str], FlaskClient],
) -> None:
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/api-clients",
        json={"name": "ERP", "role": "accountant", "scopes": ["clients:read"]},
    )
    assert created.status_code == 201
    client_id, secret = created.json["client"]["client_id"], created.json["client_secret"]

    anonymous = app.test_client()
    token = anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert token.status_code == 200
    assert token.json["token_type"].lower() == "bearer"
    assert token.json["scope"] == "clients:read"

    me = anonymous.get("/api/v1/me", headers=_bearer(token.json["access_token"]))
    assert me.json["kind"] == "api_client"
    assert me.json["memberships"] == [{"kind": "bureau", "id": w.bureau_id, "role": "accountant"}]
    listed = anonymous.get(
        f"/api/v1/bureaus/{w.bureau_id}/clients", headers=_bearer(token.json["access_token"])
    )
    assert listed.json["total"] == 2

    with app.app_context():
        row = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        stored = db.session.scalar(select(ApiToken.token_hash))
    assert secret not in row.secret_hash
    assert stored != token.json["access_token"]
    assert token.json["access_token"] not in (stored or "")


def test_wrong_secret_gets_no_token(
    app: Flask, make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/api-clients",
        json={"name": "ERP", "role": "accountant", "scopes": ["clients:read"]},
    )
    r = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.json["client"]["client_id"], "guess"),
    )
    assert r.status_code == 401
    assert r.json["error"] == "invalid_client"


def test_read_scope_token_cannot_write(
    client: FlaskClient, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id, request_scope="clients:read")
    r = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients",
        headers=_bearer(token),
        json={"nip": "1112223332", "name": "X"},
    )
    assert r.status_code == 403
    assert r.json["required_scope"] == "clients:write"
    assert (
        client.get(f"/api/v1/bureaus/{w.bureau_id}/clients", headers=_bearer(token)).status_code
        == 200
    )


def _ask(app: Flask, created: Any, scope: str) -> Any:
    """Ask the token endpoint for ``scope`` with the credentials of a created API client."""
    return app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(created.json["client"]["client_id"], created.json["client_secret"]),
    )


@pytest.mark.parametrize("scope", ["root", "clients:read users:write"])
def test_a_scope_unknown_or_not_held_is_refused_at_the_token_endpoint(
    app: Flask, make_world: Callable[..., World], login: Callable[[str], FlaskClient], scope: str
) -> None:
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/api-clients",
        json={"name": "ERP", "role": "accountant", "scopes": ["clients:read"]},
    )
    r = _ask(app, created, scope)
    assert r.status_code == 400
    assert r.json["error"] == "invalid_scope"
    granted = _ask(app, created, "clients:read")
    assert granted.status_code == 200
    assert granted.json["scope"] == "clients:read"


def test_client_scoped_token_sees_only_its_company(
    client: FlaskClient, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(client_company_id=w.client_ids[0], role=Role.CLIENT_ADMIN)
    assert (
        client.get(f"/api/v1/clients/{w.client_ids[0]}", headers=_bearer(token)).status_code == 200
    )
    assert (
        client.get(f"/api/v1/clients/{w.client_ids[1]}", headers=_bearer(token)).status_code == 404
    )
    assert client.get(f"/api/v1/bureaus/{w.bureau_id}", headers=_bearer(token)).status_code == 404


def test_revoking_the_api_client_kills_its_tokens(
    app: Flask,
    client: FlaskClient,
    make_world: Callable[..., World],
    make_token: Callable[..., str],
    login: Callable[[str], FlaskClient],
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with app.app_context():
        api_client_id = db.session.scalar(select(ApiClient.id))
    admin = app.test_client()
    admin.post(
        "/api/v1/auth/login",
        json={"email": w.admin_email, "password": "correct horse battery staple"},
    )
    revoked = admin.delete(f"/api/v1/bureaus/{w.bureau_id}/api-clients/{api_client_id}")
    assert revoked.status_code == 200
    assert revoked.json["revoked_at"] is not None
    r = client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code == 401


def test_expired_token_is_401(
    client: FlaskClient, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id)
    frozen = clock.FrozenClock(clock.now() + timedelta(hours=2))
    previous = clock.install(frozen)
    try:
        r = client.get("/api/v1/me", headers=_bearer(token))
    finally:
        clock.install(previous)
    assert r.status_code == 401
    assert r.mimetype == "application/problem+json"


def test_api_client_cannot_be_given_scopes_its_creator_lacks(
    client: FlaskClient, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id, request_scope="users:write users:read")
    r = client.post(
        f"/api/v1/bureaus/{w.bureau_id}/api-clients",
        headers=_bearer(token),
        json={"name": "x", "role": "bureau_admin", "scopes": ["clients:write"]},
    )
    assert r.status_code == 403
