"""/testdata through ksef-client, and the list endpoints a bureau tool relies on."""

from __future__ import annotations

import httpx
from ksef_client import openapi_models as m
from ksef_client.openapi_models import (
    FormCode,
    OpenOnlineSessionRequest,
    PersonCreateRequest,
    SubjectCreateRequest,
)
from ksef_client.services.crypto import build_encryption_data

from integration.ksef_sandbox import testkit
from tests.ksef_sandbox.conftest import LiveSandbox, fresh_nip, fresh_pesel
from tests.ksef_sandbox.test_auth import xades_login
from tests.ksef_sandbox.test_retrieval_and_permissions import _xades_access


def test_testdata_person_makes_the_pesel_an_owner(sandbox: LiveSandbox) -> None:
    client = sandbox.client()
    nip, pesel = fresh_nip(), fresh_pesel()
    client.testdata.create_subject(
        SubjectCreateRequest.from_dict(
            {"subjectNip": nip, "subjectType": "EnforcementAuthority", "description": "Firma"}
        )
    )
    client.testdata.create_person(
        PersonCreateRequest(description="Właściciel", is_bailiff=False, nip=nip, pesel=pesel)
    )
    code, _ = xades_login(sandbox, testkit.person_certificate("Piotr", "Prezes", pesel=pesel), nip)
    assert code == 200
    again = httpx.post(
        f"{sandbox.url}/v2/testdata/subject",
        json={"subjectNip": nip, "subjectType": "EnforcementAuthority", "description": "Firma"},
    )
    assert again.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 30001


def test_testdata_permissions_grant_and_revoke(sandbox: LiveSandbox) -> None:
    client = sandbox.client()
    nip, pesel = fresh_nip(), fresh_pesel()
    cert = testkit.person_certificate("Maria", "Pracownik", pesel=pesel)
    grant = m.TestDataPermissionsGrantRequest(
        authorized_identifier=m.TestDataAuthorizedIdentifier.from_dict(
            {"type": "Pesel", "value": pesel}
        ),
        context_identifier=m.TestDataContextIdentifier.from_dict({"type": "Nip", "value": nip}),
        permissions=[
            m.TestDataPermission.from_dict(
                {"description": "odczyt", "permissionType": "InvoiceRead"}
            )
        ],
    )
    client.testdata.grant_permissions(grant)
    assert xades_login(sandbox, cert, nip)[0] == 200
    client.testdata.revoke_permissions(
        m.TestDataPermissionsRevokeRequest(
            authorized_identifier=grant.authorized_identifier,
            context_identifier=grant.context_identifier,
        )
    )
    assert xades_login(sandbox, cert, nip)[0] == 415


def test_blocked_context_ends_authentication_with_480(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    httpx.post(
        f"{sandbox.url}/v2/testdata/context/block",
        json={"contextIdentifier": {"type": "Nip", "value": nip}},
    )
    assert xades_login(sandbox, testkit.seal_certificate("Zablokowana", nip), nip)[0] == 480


def test_list_endpoints(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    access = _xades_access(sandbox, testkit.seal_certificate("Listy Sp. z o.o.", nip), nip)
    client = sandbox.client()
    cert = next(
        c
        for c in client.security.get_public_key_certificates()
        if "SymmetricKeyEncryption" in str(c.usage)
    )
    for _ in range(2):
        client.sessions.open_online_session(
            OpenOnlineSessionRequest(
                encryption=build_encryption_data(cert.certificate).encryption_info,
                form_code=FormCode(system_code="FA (3)", schema_version="1-0E", value="FA"),
            ),
            access_token=access,
        )
    headers = {"Authorization": f"Bearer {access}"}
    sessions = httpx.get(
        f"{sandbox.url}/v2/sessions?sessionType=Online&pageSize=10", headers=headers
    ).json()
    assert len(sessions["sessions"]) == 2
    assert httpx.get(f"{sandbox.url}/v2/auth/sessions", headers=headers).json()["items"]
    personal = httpx.post(
        f"{sandbox.url}/v2/permissions/query/personal/grants", json={}, headers=headers
    ).json()
    assert personal == {"permissions": [], "hasMore": False}  # Owner rights are never listed
    granted = httpx.post(
        f"{sandbox.url}/v2/permissions/authorizations/grants",
        headers=headers,
        json={
            "subjectIdentifier": {"type": "Nip", "value": fresh_nip()},
            "permission": "SelfInvoicing",
            "description": "samofakturowanie",
            "subjectDetails": {"fullName": "Odbiorca Sp. z o.o."},
        },
    )
    assert granted.status_code == 202
    listed = httpx.post(
        f"{sandbox.url}/v2/permissions/query/authorizations/grants",
        json={"queryType": "Granted"},
        headers=headers,
    ).json()
    assert [g["authorizationScope"] for g in listed["authorizationGrants"]] == ["SelfInvoicing"]
    assert httpx.get(
        f"{sandbox.url}/v2/permissions/attachments/status", headers=headers
    ).json() == {"isAttachmentAllowed": False}
    bad = httpx.get(
        f"{sandbox.url}/v2/sessions?sessionType=Online",
        headers={**headers, "x-continuation-token": "garbage"},
    )
    assert bad.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 21418
