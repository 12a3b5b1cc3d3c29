"""KSeF credentials against the sandbox: tokens, signed logins, seals, minting, secrecy."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    load_pem_private_key,
    pkcs12,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from integration.accounts.models import Bureau, ClientCompany
from integration.core import clock
from integration.core.db import db
from integration.core.settings import Settings
from integration.credentials import vault
from integration.credentials.models import KsefCredential
from integration.credentials.service import access_token_for, rotate_vault
from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import grant, make_token
from integration.ksef_sandbox.state import KsefToken, Store
from tests.conftest import PASSWORD, World


def _store(ksef_sandbox: Flask) -> Store:
    store = ksef_sandbox.extensions["ksef_sandbox.store"]
    assert isinstance(store, Store)
    return store


def _login(app: Flask, email: str) -> FlaskClient:
    http = app.test_client()
    assert (
        http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code
        == 204
    )
    return http


def _client_nip(app: Flask, client_id: int) -> str:
    with app.app_context():
        client = db.session.get(ClientCompany, client_id)
        assert client is not None
        return client.nip


def _bureau_nip(app: Flask, bureau_id: int) -> str:
    with app.app_context():
        bureau = db.session.get(Bureau, bureau_id)
        assert bureau is not None
        return bureau.nip


def _sign_and_upload(
    http: FlaskClient, client_id: int, cert: testkit.TestCertificate, mint: str = ""
) -> Any:
    prepared = http.post(f"/api/v1/clients/{client_id}/ksef/signature-requests", json={}).json
    signed = testkit.sign_xades(prepared["document"].encode(), cert)
    return http.post(
        f"/api/v1/clients/{client_id}/ksef/signature-requests/"
        f"{prepared['request_id']}/signed{mint}",
        data=signed,
        content_type="application/xml",
        headers={"X-Requested-With": "test"},
    )


def test_stored_ksef_token_is_tested_and_kept_encrypted(
    app: Flask,
    ksef_sandbox: Flask,
    make_world: Callable[..., World],
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    _, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead", "InvoiceWrite"])
    http = _login(app, w.accountant_email)
    caplog.set_level(logging.DEBUG)
    stored = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": secret}
    )
    assert stored.status_code == 201, stored.json
    listed = http.get(f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials")
    assert {c["kind"] for c in listed.json["items"]} == {"ksef_token", "session"}
    tested = http.post(f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/test", json={})
    assert tested.json["ok"] is True
    assert tested.json["checked"] == "ksef_token"
    secret_part = secret.rsplit("|", 1)[1]
    assert secret_part not in stored.text + listed.text
    assert secret_part not in caplog.text
    with app.app_context():
        dump = " ".join(
            str(v) for row in db.session.execute(text("SELECT * FROM ksef_credential")) for v in row
        )
    assert secret_part not in dump
    assert nip in dump  # the context is metadata, not secret


def test_testing_a_token_revoked_in_ksef_asks_ksef_and_reports_it(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    reference, secret = make_token(
        _store(ksef_sandbox), _client_nip(app, client_id), ["InvoiceRead"]
    )
    http = _login(app, w.admin_email)
    url = f"/api/v1/clients/{client_id}/ksef/credentials"
    stored = http.post(f"{url}/token", json={"token": secret})
    assert stored.status_code == 201, stored.json
    with _store(ksef_sandbox).session() as s:  # revoked in KSeF; the cached session lives on
        row = s.get(KsefToken, reference)
        assert row is not None
        row.revoked_at = _store(ksef_sandbox).now()
    tested = http.post(f"{url}/test", json={})
    assert tested.status_code == 422, tested.json
    assert tested.json["type"].endswith("ksef-refused")
    assert "revoked" in tested.json["detail"]
    listed = http.get(url).json["items"]
    assert {c["kind"]: c["status"] for c in listed}["ksef_token"] == "broken"


@pytest.mark.parametrize("case", ["another company", "a person", "a foreign key"])
def test_a_seal_that_is_not_the_bureaus_own_is_refused_naming_why(
    app: Flask, make_world: Callable[..., World], case: str
) -> None:
    w = make_world()
    bureau_nip = _bureau_nip(app, w.bureau_id)
    if case == "another company":
        seal = testkit.seal_certificate("Obca Firma Sp. z o.o.", "5260250274")
        pem = seal.private_key_pem + seal.certificate_pem
    elif case == "a person":
        seal = testkit.person_certificate("Jan", "Nowak", pesel="85021501233")
        pem = seal.private_key_pem + seal.certificate_pem
    else:
        ours, other = (testkit.seal_certificate(n, bureau_nip) for n in ("Biuro", "Biuro 2"))
        pem = other.private_key_pem + ours.certificate_pem
    http = _login(app, w.admin_email)
    r = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/ksef/seal?format=pem",
        data=pem,
        content_type="application/x-pem-file",
        headers={"X-Requested-With": "t"},
    )
    assert r.status_code == 422, r.json
    expected = {
        "another company": "5260250274",
        "a person": "not a company seal",
        "a foreign key": "not the key of its certificate",
    }[case]
    assert expected in r.json["detail"]
    if case == "another company":
        assert bureau_nip in r.json["detail"]
    assert http.get(f"/api/v1/bureaus/{w.bureau_id}/ksef/credentials").status_code == 200
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM ksef_credential")) == 0


def test_wrong_token_is_refused_with_a_reason(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    http = _login(app, w.admin_email)
    r = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token",
        json={"token": "20260101-EC-0000000000-0000000000-00|nip-1|ab"},
    )
    assert r.status_code == 422
    assert "refused the token" in r.json["detail"]


def test_person_signature_works_through_the_bureaus_indirect_grant_and_mints_a_token(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_nip, bureau_nip = _client_nip(app, w.client_ids[0]), _bureau_nip(app, w.bureau_id)
    store = _store(ksef_sandbox)
    pesel = "44051401359"
    grant(
        store,
        kind="entity",
        context_nip=client_nip,
        grantee_type="Nip",
        grantee_value=bureau_nip,
        permissions=["InvoiceRead", "InvoiceWrite"],
        can_delegate=True,
    )
    grant(
        store,
        kind="indirect",
        context_nip=bureau_nip,
        grantee_type="Pesel",
        grantee_value=pesel,
        permissions=["InvoiceRead", "InvoiceWrite"],
        target_nip=client_nip,
    )
    cert = testkit.person_certificate("Ewa", "Księgowa", pesel=pesel)
    http = _login(app, w.accountant_email)
    r = _sign_and_upload(http, w.client_ids[0], cert, mint="?mint=InvoiceRead&mint=InvoiceWrite")
    assert r.status_code == 200, r.json
    token = next(c for c in r.json["items"] if c["kind"] == "ksef_token")
    assert token["rights"] == ["InvoiceRead", "InvoiceWrite"]
    assert token["status"] == "active"


def test_signature_without_permission_in_the_context_explains_what_to_do(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    cert = testkit.person_certificate("Obcy", "Podpis", pesel="02230501016")
    r = _sign_and_upload(_login(app, w.admin_email), w.client_ids[1], cert)
    assert r.status_code == 422
    assert "no permission" in r.json["detail"]
    assert r.json["ksef_status"] == 415


def test_tampered_expired_and_foreign_files_are_rejected_before_anything_is_sent(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = _login(app, w.admin_email)
    cert = testkit.person_certificate("Jan", "Nowak", pesel="85021501233")
    base = f"/api/v1/clients/{w.client_ids[0]}/ksef/signature-requests"

    def upload(rid: int, body: bytes) -> Any:
        return http.post(
            f"{base}/{rid}/signed",
            data=body,
            content_type="application/xml",
            headers={"X-Requested-With": "test"},
        ).json

    first = http.post(base, json={}).json
    assert upload(first["request_id"], first["document"].encode())["reason"] == "not-signed"
    signed = testkit.sign_xades(first["document"].encode(), cert)
    tampered = signed.replace(b"certificateSubject", b"certificateFingerprint")
    assert upload(first["request_id"], tampered)["reason"] == "broken-signature"
    other = http.post(base, json={}).json
    assert upload(other["request_id"], signed)["reason"] == "wrong-challenge"
    previous = clock.install(clock.FrozenClock(clock.now() + dt.timedelta(minutes=11)))
    try:
        assert upload(first["request_id"], signed)["reason"] == "expired"
    finally:
        clock.install(previous)


def test_bureau_seal_signs_server_side_under_the_clients_entity_grant(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_nip, bureau_nip = _client_nip(app, w.client_ids[0]), _bureau_nip(app, w.bureau_id)
    grant(
        _store(ksef_sandbox),
        kind="entity",
        context_nip=client_nip,
        grantee_type="Nip",
        grantee_value=bureau_nip,
        permissions=["InvoiceRead", "InvoiceWrite"],
    )
    seal = testkit.seal_certificate("Biuro Pieczęć", bureau_nip)
    bundle = pkcs12.serialize_key_and_certificates(
        b"seal",
        load_pem_private_key(seal.private_key_pem, None),  # type: ignore[arg-type]
        x509.load_pem_x509_certificate(seal.certificate_pem),
        None,
        BestAvailableEncryption(b"tajne-haslo"),
    )
    http = _login(app, w.admin_email)
    wrong = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/ksef/seal?format=pkcs12",
        data=bundle,
        content_type="application/x-pkcs12",
        headers={"X-Requested-With": "t", "X-Seal-Password": "zle"},
    )
    assert wrong.status_code == 422
    uploaded = http.post(
        f"/api/v1/bureaus/{w.bureau_id}/ksef/seal?format=pkcs12",
        data=bundle,
        content_type="application/x-pkcs12",
        headers={"X-Requested-With": "t", "X-Seal-Password": "tajne-haslo"},
    )
    assert uploaded.status_code == 201, uploaded.json
    assert "tajne" not in uploaded.text
    r = http.post(f"/api/v1/clients/{w.client_ids[0]}/ksef/seal-login?mint=InvoiceRead", json={})
    assert r.status_code == 200, r.json
    assert {c["kind"] for c in r.json["items"]} >= {"seal", "session", "ksef_token"}


def test_expired_access_is_refreshed_and_a_dead_refresh_re_authenticates(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    _, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead"])
    http = _login(app, w.admin_email)
    http.post(f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": secret})
    with app.app_context():
        first = access_token_for(w.client_ids[0])
        row = db.session.scalar(select(KsefCredential).where(KsefCredential.kind == "session"))
        assert row is not None
        row.expires_at = clock.now() - dt.timedelta(seconds=1)
        db.session.commit()
        refreshed = access_token_for(w.client_ids[0])
        assert refreshed != first
        row = db.session.scalar(select(KsefCredential).where(KsefCredential.kind == "session"))
        assert row is not None
        reference = row.ksef_reference
        row.expires_at = clock.now() - dt.timedelta(seconds=1)
        row.refresh_expires_at = clock.now() - dt.timedelta(seconds=1)
        db.session.commit()
        access_token_for(w.client_ids[0])
        row = db.session.scalar(select(KsefCredential).where(KsefCredential.kind == "session"))
        assert row is not None
        assert row.ksef_reference != reference  # a new authentication


def test_deleting_the_token_revokes_it_in_ksef(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    reference, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead"])
    http = _login(app, w.admin_email)
    created = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": secret}
    ).json
    assert (
        http.delete(
            f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/{created['id']}"
        ).status_code
        == 204
    )
    with _store(ksef_sandbox).session() as s:
        token = s.get(KsefToken, reference)
        assert token is not None
        assert token.revoked_at is not None


def test_read_only_client_cannot_receive_credentials(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = _login(app, w.admin_email)
    http.post(f"/api/v1/clients/{w.client_ids[0]}/registration", json={"action": "do_not_register"})
    r = http.post(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": "x|nip-1|y"}
    )
    assert r.status_code == 409
    assert http.get(f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials").status_code == 200


def test_cli_stores_lists_and_tests_a_token(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    _, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead"])
    runner = app.test_cli_runner()
    stored = runner.invoke(
        args=[
            "delegat",
            "ksef",
            "store-token",
            "--client-id",
            str(w.client_ids[0]),
            "--token-file",
            "-",
        ],
        input=secret,
    )
    assert stored.exit_code == 0, stored.output
    listed = runner.invoke(
        args=["delegat", "ksef", "credentials", "--client-id", str(w.client_ids[0])]
    )
    assert "ksef_token" in listed.output
    assert secret.rsplit("|", 1)[1] not in listed.output
    tested = runner.invoke(args=["delegat", "ksef", "test", "--client-id", str(w.client_ids[0])])
    assert "KSeF accepted the stored KSeF token just now" in tested.output


def test_vault_key_rotation_keeps_every_secret_readable(
    app: Flask,
    ksef_sandbox: Flask,
    settings: Settings,
    make_app: Callable[..., Flask],
    make_world: Callable[..., World],
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    _, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead"])
    _login(app, w.admin_email).post(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": secret}
    )
    new_key = Fernet.generate_key().decode()
    rotated = make_app(
        settings.replace(
            credential_encryption_key=f"{new_key},{settings.credential_encryption_key}"
        )
    )
    with rotated.app_context():
        assert rotate_vault() == 2
    only_new = make_app(settings.replace(credential_encryption_key=new_key))
    with only_new.app_context():
        row = db.session.scalar(select(KsefCredential).where(KsefCredential.kind == "ksef_token"))
        assert row is not None
        assert vault.unseal(row.ciphertext).decode() == secret
        session = db.session.scalar(select(KsefCredential).where(KsefCredential.kind == "session"))
        assert session is not None
        access = vault.unseal(session.ciphertext).decode().partition("\n")[0]
        dump = " ".join(
            str(v) for r in db.session.execute(text("SELECT * FROM ksef_credential")) for v in r
        )
    assert access not in dump  # access and refresh tokens are sealed too
    with app.app_context(), pytest.raises(vault.VaultDamaged):
        vault.unseal(row.ciphertext)  # the old key alone no longer opens it


def test_bureau_overview_shows_which_contexts_work(
    app: Flask, ksef_sandbox: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    nip = _client_nip(app, w.client_ids[0])
    _, secret = make_token(_store(ksef_sandbox), nip, ["InvoiceRead"])
    http = _login(app, w.accountant_email)
    http.post(f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials/token", json={"token": secret})
    items = http.get(f"/api/v1/bureaus/{w.bureau_id}/ksef/credentials").json["items"]
    working = {i["client_id"]: i["working"] for i in items}
    assert working == {w.client_ids[0]: True, w.client_ids[1]: False}
