"""The sandbox mounted in-process (Flask test client) with a clock the test moves."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask.testing import FlaskClient

from integration.ksef_sandbox import crypto
from integration.ksef_sandbox.app import SandboxConfig, create_sandbox_app
from integration.ksef_sandbox.cli import make_token
from tests.ksef_sandbox.conftest import fresh_nip


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> tuple[FlaskClient, Any, Clock]:
    clock = Clock()
    app = create_sandbox_app(
        SandboxConfig(
            database_url=f"sqlite:///{tmp_path / 's.db'}",
            clock=clock,
            token_activation_delay=dt.timedelta(0),
        )
    )
    return app.test_client(), app.extensions["ksef_sandbox.store"], clock


def _encrypt(client: FlaskClient, usage: str, data: bytes) -> str:
    certs = client.get("/v2/security/public-key-certificates").json
    der = base64.b64decode(next(c["certificate"] for c in certs if usage in c["usage"]))
    key = x509.load_der_x509_certificate(der).public_key()
    encrypted = key.encrypt(
        data,
        padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()),  # type: ignore[union-attr]
            algorithm=hashes.SHA256(),
            label=None,
        ),
    )
    return base64.b64encode(encrypted).decode()


def _token_login(
    client: FlaskClient, store: Any, nip: str, *, policy: dict[str, Any] | None = None
) -> dict[str, Any]:
    _, secret = make_token(store, nip, ["InvoiceRead", "InvoiceWrite"])
    challenge = client.post("/v2/auth/challenge").json
    body: dict[str, Any] = {
        "challenge": challenge["challenge"],
        "contextIdentifier": {"type": "Nip", "value": nip},
        "encryptedToken": _encrypt(
            client, "KsefTokenEncryption", f"{secret}|{challenge['timestampMs']}".encode()
        ),
    }
    if policy:
        body["authorizationPolicy"] = policy
    init = client.post("/v2/auth/ksef-token", json=body).json
    auth = {"Authorization": f"Bearer {init['authenticationToken']['token']}"}
    tokens = client.post("/v2/auth/token/redeem", headers=auth).json
    return {
        "init": init,
        "auth": auth,
        "access": {"Authorization": f"Bearer {tokens['accessToken']['token']}"},
    }


def _code(body: dict[str, Any]) -> int:
    return int(body["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_expired_challenge_is_refused(world: tuple[FlaskClient, Any, Clock]) -> None:
    client, store, clock = world
    nip = fresh_nip()
    _, secret = make_token(store, nip, ["InvoiceRead"])
    challenge = client.post("/v2/auth/challenge").json
    clock.now += dt.timedelta(minutes=11)
    init = client.post(
        "/v2/auth/ksef-token",
        json={
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": _encrypt(
                client, "KsefTokenEncryption", f"{secret}|{challenge['timestampMs']}".encode()
            ),
        },
    ).json
    status = client.get(
        f"/v2/auth/{init['referenceNumber']}",
        headers={"Authorization": f"Bearer {init['authenticationToken']['token']}"},
    )
    assert status.json["status"]["code"] == 450


def test_access_token_expires_after_fifteen_minutes_but_refresh_still_works(
    world: tuple[FlaskClient, Any, Clock],
) -> None:
    client, store, clock = world
    nip = fresh_nip()
    _, secret = make_token(store, nip, ["InvoiceRead"])
    challenge = client.post("/v2/auth/challenge").json
    init = client.post(
        "/v2/auth/ksef-token",
        json={
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": _encrypt(
                client, "KsefTokenEncryption", f"{secret}|{challenge['timestampMs']}".encode()
            ),
        },
    ).json
    tokens = client.post(
        "/v2/auth/token/redeem",
        headers={"Authorization": f"Bearer {init['authenticationToken']['token']}"},
    ).json
    access = {"Authorization": f"Bearer {tokens['accessToken']['token']}"}
    assert client.get("/v2/tokens", headers=access).status_code == 200
    clock.now += dt.timedelta(minutes=16)
    expired = client.get("/v2/tokens", headers=access)
    assert expired.status_code == 401
    assert expired.mimetype == "application/problem+json"
    refreshed = client.post(
        "/v2/auth/token/refresh",
        headers={"Authorization": f"Bearer {tokens['refreshToken']['token']}"},
    ).json
    again = {"Authorization": f"Bearer {refreshed['accessToken']['token']}"}
    assert client.get("/v2/tokens", headers=again).status_code == 200
    clock.now += dt.timedelta(days=8)
    assert (
        client.post(
            "/v2/auth/token/refresh",
            headers={"Authorization": f"Bearer {tokens['refreshToken']['token']}"},
        ).status_code
        == 401
    )


def test_calls_from_an_ip_outside_the_policy_are_403(world: tuple[FlaskClient, Any, Clock]) -> None:
    client, store, _ = world
    login = _token_login(
        client, store, fresh_nip(), policy={"allowedIps": {"ip4Addresses": ["10.1.2.3"]}}
    )
    r = client.get("/v2/tokens", headers=login["access"])
    assert r.status_code == 403
    assert r.json["reasonCode"] == "ip-not-allowed"


def test_problem_details_format_on_request(world: tuple[FlaskClient, Any, Clock]) -> None:
    client, _, _ = world
    r = client.post("/v2/auth/ksef-token", json={}, headers={"X-Error-Format": "problem-details"})
    assert r.status_code == 400
    assert r.mimetype == "application/problem+json"
    assert r.json["errors"][0]["code"] == 21405


def test_unknown_auth_operation_and_export_carry_their_codes(
    world: tuple[FlaskClient, Any, Clock],
) -> None:
    client, store, _ = world
    login = _token_login(client, store, fresh_nip())
    export = client.get(
        "/v2/invoices/exports/20260101-EH-0000000000-0000000000-00", headers=login["access"]
    )
    assert _code(export.json) == 21175
    other = client.get("/v2/auth/20260101-AU-0000000000-0000000000-00", headers=login["auth"])
    assert _code(other.json) == 21304


def test_technical_correction_rules(world: tuple[FlaskClient, Any, Clock]) -> None:
    client, store, _ = world
    login = _token_login(client, store, fresh_nip())
    key, iv = b"k" * 32, b"i" * 16
    opened = client.post(
        "/v2/sessions/online",
        headers=login["access"],
        json={
            "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            "encryption": {
                "encryptedSymmetricKey": _encrypt(client, "SymmetricKeyEncryption", key),
                "initializationVector": base64.b64encode(iv).decode(),
            },
        },
    ).json
    content = crypto.aes_cbc_encrypt(key, iv, b"<x/>")
    base = {
        "invoiceHash": crypto.sha256_b64(b"<x/>"),
        "invoiceSize": 4,
        "encryptedInvoiceHash": crypto.sha256_b64(content),
        "encryptedInvoiceSize": len(content),
        "encryptedInvoiceContent": base64.b64encode(content).decode(),
    }
    path = f"/v2/sessions/online/{opened['referenceNumber']}/invoices"
    not_offline = client.post(
        path,
        headers=login["access"],
        json={**base, "hashOfCorrectedInvoice": crypto.sha256_b64(b"a")},
    )
    assert _code(not_offline.json) == 21167
    unknown = client.post(
        path,
        headers=login["access"],
        json={**base, "offlineMode": True, "hashOfCorrectedInvoice": crypto.sha256_b64(b"a")},
    )
    assert _code(unknown.json) == 21167
