"""Cost invoices as buyer, download, HWM; the bureau scenario of grants and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from ksef_client.exceptions import KsefApiError

from integration.ksef_sandbox import crypto, testkit
from integration.ksef_sandbox.cli import issue_invoices, make_company, make_person, make_token
from tests.ksef_sandbox.conftest import (
    LiveSandbox,
    authenticate_with_token,
    fresh_nip,
    fresh_pesel,
    wait_for,
)
from tests.ksef_sandbox.test_auth import xades_login


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _api(live: LiveSandbox, access: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, f"{live.url}/v2{path}", headers={"Authorization": f"Bearer {access}"}, **kw
    )


def _code(r: httpx.Response) -> int:
    return int(r.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_buyer_queries_and_downloads_cost_invoices(sandbox: LiveSandbox) -> None:
    buyer, seller = fresh_nip(), fresh_nip()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    numbers = issue_invoices(sandbox.store, seller, buyer, 12, dt.datetime.now(dt.UTC))
    _, secret = make_token(sandbox.store, buyer, ["InvoiceRead"])
    client = sandbox.client()
    access = authenticate_with_token(client, buyer, secret)["access"]
    query = {
        "subjectType": "Subject2",
        "dateRange": {
            "dateType": "PermanentStorage",
            "from": _iso(start),
            "restrictToPermanentStorageHwmDate": True,
        },
    }
    first = _api(sandbox, access, "POST", "/invoices/query/metadata?pageSize=10", json=query).json()
    second = _api(
        sandbox, access, "POST", "/invoices/query/metadata?pageSize=10&pageOffset=1", json=query
    ).json()
    assert first["hasMore"] is True
    assert second["hasMore"] is False
    assert first["permanentStorageHwmDate"] == second["permanentStorageHwmDate"]
    seen = [i["ksefNumber"] for i in first["invoices"] + second["invoices"]]
    assert sorted(seen) == sorted(numbers)
    as_seller = _api(
        sandbox,
        access,
        "POST",
        "/invoices/query/metadata",
        json={**query, "subjectType": "Subject1"},
    ).json()
    assert as_seller["invoices"] == []

    content = client.invoices.get_invoice(numbers[0], access_token=access)
    xml = content.content.encode() if isinstance(content.content, str) else content.content
    assert f"<NIP>{buyer}</NIP>".encode() in xml
    raw = _api(sandbox, access, "GET", f"/invoices/ksef/{numbers[0]}")
    assert raw.headers["x-ms-meta-hash"] == crypto.sha256_b64(raw.content)


def test_invoice_of_strangers_is_21164(sandbox: LiveSandbox) -> None:
    numbers = issue_invoices(sandbox.store, fresh_nip(), fresh_nip(), 1, dt.datetime.now(dt.UTC))
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    access = authenticate_with_token(sandbox.client(), nip, secret)["access"]
    r = _api(sandbox, access, "GET", f"/invoices/ksef/{numbers[0]}")
    assert (r.status_code, _code(r)) == (400, 21164)


@pytest.mark.parametrize(
    ("date_range", "code"),
    [
        (
            {
                "dateType": "PermanentStorage",
                "restrictToPermanentStorageHwmDate": True,
                "from": "2999-01-01T00:00:00Z",
            },
            21183,
        ),
        ({"dateType": "Issue", "from": "2026-01-01T00:00:00", "to": "2026-06-01T00:00:00"}, 21405),
        ({"dateType": "Sometime", "from": "2026-01-01T00:00:00Z"}, 21405),
    ],
)
def test_query_validations(sandbox: LiveSandbox, date_range: dict[str, Any], code: int) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    access = authenticate_with_token(sandbox.client(), nip, secret)["access"]
    r = _api(
        sandbox,
        access,
        "POST",
        "/invoices/query/metadata",
        json={"subjectType": "Subject2", "dateRange": date_range},
    )
    assert (r.status_code, _code(r)) == (400, code)


def _xades_access(live: LiveSandbox, cert: testkit.TestCertificate, context: str) -> str:
    code, init = xades_login(live, cert, context)
    assert code == 200, code
    tokens = live.client().auth.redeem_token(init.authentication_token.token)
    return str(tokens.access_token.token)


def _operation_done(live: LiveSandbox, access: str, reference: str) -> int:
    return int(
        _api(live, access, "GET", f"/permissions/operations/{reference}").json()["status"]["code"]
    )


def test_bureau_scenario_client_delegates_bureau_passes_to_employee(sandbox: LiveSandbox) -> None:
    client_nip, bureau_nip = fresh_nip(), fresh_nip()
    owner_pesel, employee_pesel = fresh_pesel(), fresh_pesel()
    for nip, pesel in ((client_nip, owner_pesel),):
        make_company(sandbox.store, nip, "Klient Sp. z o.o.")
        make_person(sandbox.store, nip, pesel)
    owner = _xades_access(
        sandbox, testkit.person_certificate("Olga", "Owner", pesel=owner_pesel), client_nip
    )
    employee_cert = testkit.person_certificate("Ewa", "Księgowa", pesel=employee_pesel)

    # before any grant the employee cannot enter the client's context
    assert xades_login(sandbox, employee_cert, client_nip)[0] == 415

    # 1. the client delegates to the bureau
    grant = _api(
        sandbox,
        owner,
        "POST",
        "/permissions/entities/grants",
        json={
            "subjectIdentifier": {"type": "Nip", "value": bureau_nip},
            "permissions": [
                {"type": "InvoiceRead", "canDelegate": True},
                {"type": "InvoiceWrite", "canDelegate": True},
            ],
            "description": "Biuro rachunkowe",
            "subjectDetails": {"fullName": "Biuro Bilans"},
        },
    )
    assert grant.status_code == 202
    assert _operation_done(sandbox, owner, grant.json()["referenceNumber"]) == 200

    # 2. the bureau sees it; 3. passes it to its employee for this client
    bureau = _xades_access(
        sandbox, testkit.seal_certificate("Biuro Bilans", bureau_nip), bureau_nip
    )
    received = _api(sandbox, bureau, "POST", "/permissions/query/entities/grants", json={}).json()
    assert {(p["permissionScope"], p["canDelegate"]) for p in received["permissions"]} == {
        ("InvoiceRead", True),
        ("InvoiceWrite", True),
    }
    indirect = _api(
        sandbox,
        bureau,
        "POST",
        "/permissions/indirect/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": employee_pesel},
            "targetIdentifier": {"type": "Nip", "value": client_nip},
            "permissions": ["InvoiceRead", "InvoiceWrite"],
            "description": "Obsługa klienta",
            "subjectDetails": {
                "subjectDetailsType": "PersonByIdentifier",
                "personById": {"firstName": "Ewa", "lastName": "Księgowa"},
            },
        },
    )
    assert _operation_done(sandbox, bureau, indirect.json()["referenceNumber"]) == 200

    # 4. the employee works in the client's context and mints a token there
    employee = _xades_access(sandbox, employee_cert, client_nip)
    token = _api(
        sandbox,
        employee,
        "POST",
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Delegat unattended"},
    )
    assert token.status_code == 202
    too_much = _api(
        sandbox,
        employee,
        "POST",
        "/tokens",
        json={"permissions": ["CredentialsManage"], "description": "more than I hold"},
    )
    assert (too_much.status_code, _code(too_much)) == (400, 26001)
    reference = token.json()["referenceNumber"]
    assert _api(sandbox, employee, "GET", f"/tokens/{reference}").json()["status"] in (
        "Pending",
        "Active",
    )
    wait_for(
        lambda: _api(sandbox, employee, "GET", f"/tokens/{reference}").json()["status"] == "Active"
    )
    authenticate_with_token(sandbox.client(), client_nip, token.json()["token"])

    # 5. the client revokes the delegation: the employee's token stops working
    listed = _api(
        sandbox,
        owner,
        "POST",
        "/permissions/query/persons/grants",
        json={"queryType": "PermissionsInCurrentContext"},
    ).json()["permissions"]
    for item in listed:
        if item["authorizedIdentifier"]["value"] == bureau_nip:
            revoke = _api(sandbox, owner, "DELETE", f"/permissions/common/grants/{item['id']}")
            assert _operation_done(sandbox, owner, revoke.json()["referenceNumber"]) == 200
    with pytest.raises(AssertionError):
        authenticate_with_token(sandbox.client(), client_nip, token.json()["token"])


def test_selective_indirect_grant_without_delegation_fails_430(sandbox: LiveSandbox) -> None:
    bureau_nip = fresh_nip()
    bureau = _xades_access(sandbox, testkit.seal_certificate("Biuro Bez", bureau_nip), bureau_nip)
    r = _api(
        sandbox,
        bureau,
        "POST",
        "/permissions/indirect/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": fresh_pesel()},
            "targetIdentifier": {"type": "Nip", "value": fresh_nip()},
            "permissions": ["InvoiceRead"],
            "description": "nie wolno",
            "subjectDetails": {
                "subjectDetailsType": "PersonByIdentifier",
                "personById": {"firstName": "Jan", "lastName": "Nowak"},
            },
        },
    )
    assert _operation_done(sandbox, bureau, r.json()["referenceNumber"]) == 430


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"subjectIdentifier": {"type": "Pesel", "value": "85021501234"}}, "Pesel"),
        ({"description": "abc"}, "description"),
        ({"subjectDetails": {"subjectDetailsType": "PersonByIdentifier"}}, "subjectDetails"),
    ],
)
def test_person_grant_validation_is_21405(
    sandbox: LiveSandbox, payload: dict[str, Any], fragment: str
) -> None:
    nip = fresh_nip()
    access = _xades_access(sandbox, testkit.seal_certificate("Firma Walid", nip), nip)
    base = {
        "subjectIdentifier": {"type": "Pesel", "value": fresh_pesel()},
        "permissions": ["InvoiceRead"],
        "description": "poprawny opis",
        "subjectDetails": {
            "subjectDetailsType": "PersonByIdentifier",
            "personById": {"firstName": "Jan", "lastName": "Nowak"},
        },
    }
    r = _api(sandbox, access, "POST", "/permissions/persons/grants", json={**base, **payload})
    assert (r.status_code, _code(r)) == (400, 21405)
    assert fragment in " ".join(r.json()["exception"]["exceptionDetailList"][0]["details"])


def test_revoked_token_fails_authentication_with_450(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    access = _xades_access(sandbox, testkit.seal_certificate("Firma Tok", nip), nip)
    token = _api(
        sandbox,
        access,
        "POST",
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "do odwołania"},
    ).json()
    assert _api(sandbox, access, "DELETE", f"/tokens/{token['referenceNumber']}").status_code == 204
    listed = _api(sandbox, access, "GET", "/tokens").json()["tokens"]
    assert [t["status"] for t in listed] == ["Revoked"]
    with pytest.raises(AssertionError):
        authenticate_with_token(sandbox.client(), nip, token["token"])
    with pytest.raises(KsefApiError):
        sandbox.client().tokens.get_token_status(
            "20260101-EC-0000000000-0000000000-00", access_token=access
        )
