"""An actor of bureau A can neither read nor change anything of bureau B, on any endpoint."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.accounts.models import (
    ApiClient,
    ClientCompany,
    Membership,
    Role,
    UserAccount,
)
from integration.core.db import db
from integration.ksef_sandbox import testkit
from tests.conftest import World

# A body that would be accepted, so that only tenancy can be the reason for refusal.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("api.BureauItem", "PATCH"): {"name": "Hijacked"},
    ("api.BureauClients", "POST"): {"nip": "1112223332", "name": "Planted"},
    ("api.ClientItem", "PATCH"): {"name": "Hijacked"},
    ("permissions.grant_indirect", "POST"): {
        "client_id": 1,
        "identifier": "90031204568",
        "name": "Ewa Nowak",
        "rights": ["InvoiceWrite"],
    },
    ("permissions.Grants", "POST"): {
        "kind": "person",
        "identifier": "90031204568",
        "name": "Ewa Nowak",
        "rights": ["InvoiceWrite"],
    },
    ("api.bureau_users", "POST"): {
        "email": "mole@x.example",
        "first_name": "M",
        "last_name": "M",
        "role": "bureau_admin",
    },
    ("api.client_users", "POST"): {
        "email": "mole2@x.example",
        "first_name": "M",
        "last_name": "M",
        "role": "client_admin",
    },
    ("api.bureau_user", "PATCH"): {"is_active": False},
    ("api.client_user", "PATCH"): {"is_active": False},
    ("api.bureau_api_clients", "POST"): {
        "name": "x",
        "role": "bureau_admin",
        "scopes": ["clients:read"],
    },
    ("api.client_api_clients", "POST"): {
        "name": "x",
        "role": "client_admin",
        "scopes": ["clients:read"],
    },
    ("licensing.LicencePanel", "POST"): {"number": "44G70-50000-002G0-H41TY-2MZE6-BT53"},
    ("licensing.ClientRegistration", "POST"): {"action": "register", "display_name": "Mine"},
    ("licensing.check_registration_status", "POST"): {},
    ("credentials.store_token", "POST"): {"token": "20260101-EC-0|nip-1234563218|ab"},
    ("masterdata.counterparties_collection", "POST"): {"name": "Planted"},
    ("masterdata.products_collection", "POST"): {"name": "Planted", "vat_rate": "23"},
}
# Non-JSON bodies: (content, content type)
RAW_BODIES: dict[tuple[str, str], tuple[bytes, str, str]] = {
    ("licensing.MasterData", "POST"): (
        b"nip,name,country,address,email\n,Planted,PL,,\n",
        "text/csv",
        "?format=csv",
    ),
    ("credentials.upload_signed", "POST"): (b"<AuthTokenRequest/>", "application/xml", ""),
    ("credentials.upload_seal", "POST"): (b"not a seal", "application/x-pkcs12", "?format=pem"),
    ("invoices.Invoices", "POST"): (
        testkit.fa3_invoice(
            seller_nip="5260250274",
            buyer_nip="7740001454",
            number="PLANTED/1",
            issue_date=dt.date(2026, 1, 2),
        ),
        "application/xml",
        "",
    ),
    ("invoices.Archive", "POST"): (b"PK\x05\x06" + bytes(18), "application/zip", ""),
}
ID_PARAMS = {"bureau_id", "client_id", "tenant_id", "user_id", "api_client_id"}


def _targets(app: Flask, b: World, b_ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) of every API route that names an object of bureau B."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or not set(rule.arguments) & ID_PARAMS:
            continue
        if rule.rule.startswith("/api/v1/platform/"):
            continue  # platform admin only; covered by test_platform_endpoints_refuse_others
        values = {}
        for arg in rule.arguments:
            if arg == "tenant_id":
                values[arg] = b.bureau_id if "/bureaus/" in rule.rule else b.client_ids[0]
            elif arg == "user_id":
                values[arg] = (
                    b_ids["admin_user"] if "/bureaus/" in rule.rule else b_ids["client_user"]
                )
            elif arg == "api_client_id":
                values[arg] = (
                    b_ids["bureau_api_client"]
                    if "/bureaus/" in rule.rule
                    else b_ids["client_api_client"]
                )
            elif arg == "bureau_id":
                values[arg] = b.bureau_id
            elif arg == "kind":
                values[arg] = "counterparties"
            else:
                values[arg] = b.client_ids[0]
        url = rule.rule
        for arg, value in values.items():
            url = url.replace(f"<int:{arg}>", str(value)).replace(f"<{arg}>", str(value))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    return out


def _snapshot(app: Flask, b: World) -> tuple[Any, ...]:
    with app.app_context():
        s = db.session
        clients = s.execute(
            select(ClientCompany.id, ClientCompany.name)
            .where(ClientCompany.bureau_id == b.bureau_id)
            .order_by(ClientCompany.id)
        ).all()
        members = s.execute(
            select(Membership.user_id, Membership.role, UserAccount.is_active)
            .join(UserAccount)
            .order_by(Membership.id)
        ).all()
        api_clients = s.execute(
            select(ApiClient.id, ApiClient.revoked_at).order_by(ApiClient.id)
        ).all()
        return tuple(clients), tuple(members), tuple(api_clients)


@pytest.fixture
def two_bureaus(
    app: Flask, make_world: Callable[..., World]
) -> tuple[World, World, dict[str, int]]:
    a, b = make_world("alpha"), make_world("beta")
    with app.app_context():
        s = db.session
        ids = {
            "admin_user": s.scalar(
                select(UserAccount.id).where(UserAccount.email == b.admin_email)
            ),
            "client_user": s.scalar(
                select(UserAccount.id).where(UserAccount.email == b.client_admin_email)
            ),
        }
        for key, where in (
            ("bureau_api_client", {"bureau_id": b.bureau_id}),
            ("client_api_client", {"client_company_id": b.client_ids[0]}),
        ):
            api_client = ApiClient(
                client_id=f"dlg_{key}",
                secret_hash="x",
                name=key,
                role=Role.BUREAU_ADMIN if "bureau" in key else Role.CLIENT_ADMIN,
                scopes="clients:read",
                **where,
            )
            s.add(api_client)
            s.flush()
            ids[key] = api_client.id
        s.commit()
    return a, b, ids


def _assert_all_404(
    app: Flask, http: FlaskClient, headers: dict[str, str], b: World, ids: dict[str, int]
) -> int:
    before = _snapshot(app, b)
    targets = _targets(app, b, ids)
    for method, url, endpoint in targets:
        raw = RAW_BODIES.get((endpoint, method))
        if raw is not None:
            r = http.open(
                url + raw[2],
                method=method,
                data=raw[0],
                content_type=raw[1],
                headers={**headers, "X-Requested-With": "test"},
            )
        else:
            body = VALID_BODIES.get((endpoint, method))
            if body is None and method == "POST":
                body = {}
            r = http.open(url, method=method, json=body, headers=headers)
        assert r.status_code == 404, (method, url, r.status_code, r.json)
        assert r.mimetype == "application/problem+json"
    assert _snapshot(app, b) == before
    return len(targets)


def test_bureau_admin_of_a_gets_404_for_every_endpoint_of_b(
    app: Flask,
    two_bureaus: tuple[World, World, dict[str, int]],
    login: Callable[[str], FlaskClient],
) -> None:
    a, b, ids = two_bureaus
    checked = _assert_all_404(app, login(a.admin_email), {}, b, ids)
    assert checked == _documented_id_operations(app)  # every route with an id, every method


def test_bearer_token_of_a_gets_404_for_every_endpoint_of_b(
    app: Flask,
    client: FlaskClient,
    two_bureaus: tuple[World, World, dict[str, int]],
    make_token: Callable[..., str],
) -> None:
    a, b, ids = two_bureaus
    token = make_token(bureau_id=a.bureau_id)  # every scope: only tenancy can refuse
    checked = _assert_all_404(app, client, {"Authorization": f"Bearer {token}"}, b, ids)
    assert checked == _documented_id_operations(app)


def _documented_id_operations(app: Flask) -> int:
    """Operations of the OpenAPI document that name an object (the platform's aside)."""
    spec = app.test_client().get("/api/v1/openapi.json").json
    return sum(
        1
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        and not path.startswith("/api/v1/platform/")
        and any(f"{{{p}}}" in path for p in ID_PARAMS)
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def test_bureau_list_shows_only_own_bureau(
    two_bureaus: tuple[World, World, dict[str, int]], login: Callable[[str], FlaskClient]
) -> None:
    a, _, _ = two_bureaus
    r = login(a.admin_email).get("/api/v1/bureaus")
    assert [item["id"] for item in r.json["items"]] == [a.bureau_id]


def test_client_admin_sees_only_own_company_not_its_sibling(
    make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.client_admin_email)
    assert http.get(f"/api/v1/clients/{w.client_ids[0]}").status_code == 200
    assert http.get(f"/api/v1/clients/{w.client_ids[1]}").status_code == 404
    listed = http.get(f"/api/v1/bureaus/{w.bureau_id}/clients")
    assert listed.status_code == 404  # the bureau itself is not the client's to see


def test_accountant_may_add_clients_but_not_manage_people(
    make_world: Callable[..., World], login: Callable[[str], FlaskClient]
) -> None:
    w = make_world()
    http = login(w.accountant_email)
    added = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/clients", json={"nip": "1112223332", "name": "New"}
    )
    assert added.status_code == 201
    refused = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": "x@y.example", "first_name": "X", "last_name": "Y", "role": "accountant"},
    )
    assert refused.status_code == 403
    assert refused.json["type"].endswith("/forbidden")
