"""Authentication against the sandbox, driven by the independent ksef-client package."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from ksef_client.exceptions import KsefApiError, KsefHttpError
from ksef_client.services.auth import (
    build_auth_token_request_xml,
    build_ksef_token_auth_request,
    encrypt_ksef_token,
)
from ksef_client.services.xades import sign_xades_enveloped

from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import make_company, make_person, make_token
from tests.ksef_sandbox.conftest import (
    LiveSandbox,
    authenticate_with_token,
    fresh_nip,
    fresh_pesel,
    wait_for,
)


def _exception_code(exc: Exception) -> int:
    raw = getattr(exc, "response_body", None) or getattr(exc, "raw", None) or {}
    if isinstance(raw, (bytes, str)):
        raw = json.loads(raw)
    if "exception" in raw:
        return int(raw["exception"]["exceptionDetailList"][0]["exceptionCode"])
    return int(raw["errors"][0]["code"])


def xades_login(
    live: LiveSandbox,
    cert: testkit.TestCertificate,
    context_nip: str,
    subject_type: str = "certificateSubject",
) -> tuple[int, object]:
    client = live.client()
    challenge = client.auth.get_challenge()
    xml = build_auth_token_request_xml(
        challenge=challenge.challenge,
        context_identifier_type="nip",
        context_identifier_value=context_nip,
        subject_identifier_type=subject_type,
    )
    signed = sign_xades_enveloped(xml, cert.certificate_pem.decode(), cert.private_key_pem.decode())
    init = client.auth.submit_xades_auth_request(signed)
    assert init is not None
    status = wait_for(
        lambda: (
            (
                s := client.auth.get_auth_status(
                    init.reference_number, init.authentication_token.token
                )
            ).status.code
            != 100
            and s
        )
    )
    return status.status.code, init


def test_ksef_token_authentication_redeems_and_refreshes(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead", "InvoiceWrite"])
    client = sandbox.client()
    tokens = authenticate_with_token(client, nip, secret)
    refreshed = client.auth.refresh_access_token(tokens["refresh"])
    assert refreshed.access_token.token != tokens["access"]
    sessions = client.auth.get_active_sessions(access_token=tokens["access"])
    assert [i.is_current for i in sessions.items] == [True]


def test_redeem_is_one_shot(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    client = sandbox.client()
    certs = client.security.get_public_key_certificates()
    cert = next(c for c in certs if "KsefTokenEncryption" in str(c.usage))
    challenge = client.auth.get_challenge()
    init = client.auth.submit_ksef_token_auth(
        build_ksef_token_auth_request(
            challenge=challenge.challenge,
            context_identifier_type="nip",
            context_identifier_value=nip,
            encrypted_token_base64=encrypt_ksef_token(
                public_certificate=cert.certificate,
                token=secret,
                timestamp_ms=challenge.timestamp_ms,
            ),
        )
    )
    client.auth.redeem_token(init.authentication_token.token)
    with pytest.raises((KsefApiError, KsefHttpError)) as info:
        client.auth.redeem_token(init.authentication_token.token)
    assert _exception_code(info.value) == 21301


def test_token_with_wrong_timestamp_or_reused_challenge_fails_with_450(
    sandbox: LiveSandbox,
) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    client = sandbox.client()
    cert = next(
        c
        for c in client.security.get_public_key_certificates()
        if "KsefTokenEncryption" in str(c.usage)
    )
    challenge = client.auth.get_challenge()
    wrong_time = encrypt_ksef_token(
        public_certificate=cert.certificate, token=secret, timestamp_ms=challenge.timestamp_ms + 1
    )
    init = client.auth.submit_ksef_token_auth(
        build_ksef_token_auth_request(
            challenge=challenge.challenge,
            context_identifier_type="nip",
            context_identifier_value=nip,
            encrypted_token_base64=wrong_time,
        )
    )
    status = client.auth.get_auth_status(init.reference_number, init.authentication_token.token)
    assert status.status.code == 450
    # the challenge was consumed by the first attempt
    right_time = encrypt_ksef_token(
        public_certificate=cert.certificate, token=secret, timestamp_ms=challenge.timestamp_ms
    )
    again = client.auth.submit_ksef_token_auth(
        build_ksef_token_auth_request(
            challenge=challenge.challenge,
            context_identifier_type="nip",
            context_identifier_value=nip,
            encrypted_token_base64=right_time,
        )
    )
    assert (
        client.auth.get_auth_status(
            again.reference_number, again.authentication_token.token
        ).status.code
        == 450
    )


def test_revoked_session_cannot_refresh(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    client = sandbox.client()
    tokens = authenticate_with_token(client, nip, secret)
    client.auth.revoke_current_session(tokens["access"])
    with pytest.raises((KsefApiError, KsefHttpError)) as info:
        client.auth.refresh_access_token(tokens["refresh"])
    assert _exception_code(info.value) == 21301


def test_xades_person_linked_to_the_company_is_owner(sandbox: LiveSandbox) -> None:
    nip, pesel = fresh_nip(), fresh_pesel()
    make_company(sandbox.store, nip, "Firma testowa")
    make_person(sandbox.store, nip, pesel)
    cert = testkit.person_certificate("Anna", "Nowak", pesel=pesel)
    code, _ = xades_login(sandbox, cert, nip)
    assert code == 200


def test_xades_without_any_permission_in_the_context_ends_with_415(sandbox: LiveSandbox) -> None:
    cert = testkit.person_certificate("Obcy", "Człowiek", pesel=fresh_pesel())
    code, _ = xades_login(sandbox, cert, fresh_nip())
    assert code == 415


def test_xades_company_seal_authenticates_as_owner_of_its_nip(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    code, _ = xades_login(sandbox, testkit.seal_certificate("Pieczęć Sp. z o.o.", nip), nip)
    assert code == 200


def test_xades_fingerprint_subject_needs_a_grant_to_its_fingerprint(sandbox: LiveSandbox) -> None:
    cert = testkit.person_certificate("Bez", "Identyfikatora", pesel=fresh_pesel())
    code, _ = xades_login(sandbox, cert, fresh_nip(), subject_type="certificateFingerprint")
    assert code == 415


def _raw_xades(live: LiveSandbox, body: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = httpx.post(
        f"{live.url}/v2/auth/xades-signature",
        content=body,
        headers={"Content-Type": "application/xml"},
    )
    return r.status_code, r.json()


def _code(body: dict) -> int:  # type: ignore[type-arg]
    return int(body["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_xades_refusals_carry_the_ksef_exception_codes(sandbox: LiveSandbox) -> None:
    client = sandbox.client()
    cert = testkit.person_certificate("Jan", "Test", pesel=fresh_pesel())
    nip = fresh_nip()
    unsigned = testkit.auth_token_request(client.auth.get_challenge().challenge, nip)
    assert _code(_raw_xades(sandbox, unsigned)[1]) == 9102
    assert _code(_raw_xades(sandbox, b"<not-xml")[1]) == 21001
    assert _code(_raw_xades(sandbox, b"\xff\xfe<a/>")[1]) == 21217
    bad_schema = testkit.sign_xades(
        unsigned.replace(b"<Nip>", b"<Nip>X").replace(b"</Nip>", b"Y</Nip>"), cert
    )
    assert _code(_raw_xades(sandbox, bad_schema)[1]) == 21401
    signed = testkit.sign_xades(unsigned, cert)
    tampered = signed.replace(nip.encode(), fresh_nip().encode(), 1)
    assert _code(_raw_xades(sandbox, tampered)[1]) == 9105
    status, _ = _raw_xades(sandbox, signed)
    assert status == 202
    replay_status, replay = _raw_xades(sandbox, signed)  # the challenge is single-use
    assert (replay_status, _code(replay)) == (400, 21111)
    twice = signed.replace(
        b"</AuthTokenRequest>",
        signed[signed.index(b"<ds:Signature") : signed.index(b"</ds:Signature>") + 15]
        + b"</AuthTokenRequest>",
    )
    assert _code(_raw_xades(sandbox, twice)[1]) == 9103


def test_unknown_public_key_id_is_21470(sandbox: LiveSandbox) -> None:
    client = sandbox.client()
    challenge = client.auth.get_challenge()
    r = httpx.post(
        f"{sandbox.url}/v2/auth/ksef-token",
        json={
            "challenge": challenge.challenge,
            "contextIdentifier": {"type": "Nip", "value": fresh_nip()},
            "encryptedToken": base64.b64encode(b"x" * 256).decode(),
            "publicKeyId": "nope",
        },
    )
    assert r.status_code == 400
    assert _code(r.json()) == 21470


def test_missing_bearer_is_401_problem(sandbox: LiveSandbox) -> None:
    r = httpx.get(f"{sandbox.url}/v2/tokens")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
