"""Online sessions with FA(3) invoices: statuses, KSeF numbers, UPOs and the refusals."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest
from ksef_client.exceptions import KsefApiError
from ksef_client.openapi_models import FormCode, OpenOnlineSessionRequest
from ksef_client.services.crypto import build_encryption_data, build_send_invoice_request
from lxml import etree

from integration.ksef_sandbox import crypto, testkit
from integration.ksef_sandbox.cli import make_token
from tests.ksef_sandbox.conftest import LiveSandbox, authenticate_with_token, fresh_nip, wait_for
from tests.reference import require_reference

FA3 = FormCode(system_code="FA (3)", schema_version="1-0E", value="FA")


class Seller:
    """A company with a KSeF token, an access token and an open online session."""

    def __init__(self, live: LiveSandbox) -> None:
        self.live, self.nip = live, fresh_nip()
        _, secret = make_token(live.store, self.nip, ["InvoiceWrite", "InvoiceRead"])
        self.client = live.client()
        self.access = authenticate_with_token(self.client, self.nip, secret)["access"]
        cert = next(
            c
            for c in self.client.security.get_public_key_certificates()
            if "SymmetricKeyEncryption" in str(c.usage)
        )
        self.enc = build_encryption_data(cert.certificate, public_key_id=cert.public_key_id)
        opened = self.client.sessions.open_online_session(
            OpenOnlineSessionRequest(encryption=self.enc.encryption_info, form_code=FA3),
            access_token=self.access,
        )
        self.session = opened.reference_number

    def invoice(self, number: str, **kw: Any) -> bytes:
        return testkit.fa3_invoice(
            seller_nip=kw.pop("seller", self.nip),
            buyer_nip=kw.pop("buyer", "5260250274"),
            number=number,
            issue_date=kw.pop("issue_date", dt.datetime.now(dt.UTC).date()),
            **kw,
        )

    def send(self, xml: bytes) -> str:
        request = build_send_invoice_request(xml, self.enc.key, self.enc.iv)
        return self.client.sessions.send_online_invoice(
            self.session, request, access_token=self.access
        ).reference_number

    def status(self, invoice_ref: str) -> Any:
        self.live.drain()
        return self.client.sessions.get_session_invoice_status(
            self.session, invoice_ref, access_token=self.access
        )

    def close(self) -> Any:
        """Close the session and wait until KSeF has judged it (200)."""
        self.client.sessions.close_online_session(self.session, access_token=self.access)
        return wait_for(
            lambda: (
                (
                    s := self.client.sessions.get_session_status(
                        self.session, access_token=self.access
                    )
                ).status.code
                == 200
                and s
            )
        )

    def raw(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.live.url}/v2{path}",
            headers={"Authorization": f"Bearer {self.access}"},
            **kw,
        )


def test_the_upo_of_an_invoice_validates_against_the_ministrys_upo_schema(
    sandbox: LiveSandbox,
) -> None:
    schema = etree.XMLSchema(etree.parse(str(require_reference() / "upo" / "upo-v4-3.xsd")))
    seller = Seller(sandbox)
    ref = seller.send(seller.invoice("FV/UPO/2026"))
    assert seller.status(ref).status.code == 200
    upo = seller.client.sessions.get_session_invoice_upo_by_ref(
        seller.session, ref, access_token=seller.access
    )
    doc = etree.fromstring(upo if isinstance(upo, bytes) else upo.content)
    assert schema.validate(doc), schema.error_log
    session = seller.close()
    session_upo = seller.client.sessions.get_session_upo(
        seller.session, session.upo.pages[0].reference_number, access_token=seller.access
    )
    session_doc = etree.fromstring(
        session_upo if isinstance(session_upo, bytes) else session_upo.content
    )
    assert schema.validate(session_doc), schema.error_log


def _code(r: httpx.Response) -> int:
    return int(r.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_invoice_is_accepted_with_a_ksef_number_and_upos(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    xml = seller.invoice("FV/1/2026")
    ref = seller.send(xml)
    status = seller.status(ref)
    assert status.status.code == 200
    number = status.ksef_number
    assert number.startswith(f"{seller.nip}-")
    assert int(number[-2:], 16) == crypto.crc8(number[:32].encode())
    assert status.invoice_number == "FV/1/2026"

    upo = seller.client.sessions.get_session_invoice_upo_by_ref(
        seller.session, ref, access_token=seller.access
    )
    doc = etree.fromstring(upo if isinstance(upo, bytes) else upo.content)
    assert doc.findtext("{*}Dokument/{*}NumerKSeFDokumentu") == number
    assert (
        doc.findtext("{*}Dokument/{*}SkrotDokumentu")
        == base64.b64encode(hashlib.sha256(xml).digest()).decode()
    )

    session = seller.close()
    assert session.successful_invoice_count == 1
    page = session.upo.pages[0]
    session_upo = seller.client.sessions.get_session_upo(
        seller.session, page.reference_number, access_token=seller.access
    )
    session_doc = etree.fromstring(
        session_upo if isinstance(session_upo, bytes) else session_upo.content
    )
    assert session_doc.findtext("{*}OpisPotwierdzenia/{*}CalkowitaLiczbaDokumentow") == "1"


def test_duplicate_invoice_is_440_naming_the_original(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    first = seller.status(seller.send(seller.invoice("FV/DUP/1")))
    second = seller.status(
        seller.send(seller.invoice("FV/DUP/1", net=__import__("decimal").Decimal("5")))
    )
    assert second.status.code == 440
    assert second.status.extensions["originalKsefNumber"] == first.ksef_number
    assert second.status.extensions["originalSessionReferenceNumber"] == seller.session


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not-xml", 430),
        ("schema", 430),
        ("future-date", 450),
        ("foreign-seller", 410),
        ("bom", 430),
    ],
)
def test_invalid_invoices_get_the_real_status_codes(
    sandbox: LiveSandbox, case: str, expected: int
) -> None:
    seller = Seller(sandbox)
    xml = {
        "not-xml": b"<Faktura>",
        "schema": seller.invoice("FV/S/1")
        .replace(b"<P_2>", b"<P_2X>")
        .replace(b"</P_2>", b"</P_2X>"),
        "future-date": seller.invoice(
            "FV/F/1", issue_date=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)
        ),
        "foreign-seller": seller.invoice("FV/O/1", seller=fresh_nip()),
        "bom": b"\xef\xbb\xbf" + seller.invoice("FV/B/1"),
    }[case]
    status = seller.status(seller.send(xml))
    assert status.status.code == expected
    failed = seller.client.sessions.get_session_failed_invoices(
        seller.session, access_token=seller.access
    )
    assert len(failed.invoices) == 1


def test_undecryptable_invoice_is_435(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    garbage = b"\x00" * 32
    r = seller.raw(
        "POST",
        f"/sessions/online/{seller.session}/invoices",
        json={
            "invoiceHash": crypto.sha256_b64(b"x"),
            "invoiceSize": 1,
            "encryptedInvoiceHash": crypto.sha256_b64(garbage),
            "encryptedInvoiceSize": 32,
            "encryptedInvoiceContent": base64.b64encode(garbage).decode(),
        },
    )
    assert r.status_code == 202
    assert seller.status(r.json()["referenceNumber"]).status.code == 435


def test_size_and_hash_mismatches_are_refused_synchronously(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    request = build_send_invoice_request(seller.invoice("FV/H/1"), seller.enc.key, seller.enc.iv)
    body = request.to_dict()
    wrong_size = seller.raw(
        "POST",
        f"/sessions/online/{seller.session}/invoices",
        json={**body, "encryptedInvoiceSize": body["encryptedInvoiceSize"] + 1},
    )
    assert (wrong_size.status_code, _code(wrong_size)) == (400, 21402)
    wrong_hash = seller.raw(
        "POST",
        f"/sessions/online/{seller.session}/invoices",
        json={**body, "encryptedInvoiceHash": crypto.sha256_b64(b"other")},
    )
    assert (wrong_hash.status_code, _code(wrong_hash)) == (400, 21403)


def test_closed_or_unknown_session_refuses_invoices(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    seller.client.sessions.close_online_session(seller.session, access_token=seller.access)
    with pytest.raises(KsefApiError) as closed:
        seller.send(seller.invoice("FV/C/1"))
    assert closed.value.status_code == 400
    assert "21180" in str(closed.value.response_body)
    r = seller.raw("GET", "/sessions/20260101-SO-0000000000-0000000000-00")
    assert _code(r) == 21173
    session = wait_for(
        lambda: (
            (
                s := seller.client.sessions.get_session_status(
                    seller.session, access_token=seller.access
                )
            ).status.code
            != 170
            and s
        )
    )
    assert session.status.code == 440  # closed with nothing sent


def test_unsupported_form_code_and_unknown_key_are_refused(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    enc = seller.enc.encryption_info.to_dict()
    fa2 = seller.raw(
        "POST",
        "/sessions/online",
        json={
            "formCode": {"systemCode": "FA (2)", "schemaVersion": "1-0E", "value": "FA"},
            "encryption": enc,
        },
    )
    assert (fa2.status_code, _code(fa2)) == (400, 21405)
    unknown = seller.raw(
        "POST",
        "/sessions/online",
        json={"formCode": FA3.to_dict(), "encryption": {**enc, "publicKeyId": "AAAA"}},
    )
    assert _code(unknown) == 21470


def test_session_with_an_undecryptable_key_ends_415(sandbox: LiveSandbox) -> None:
    seller = Seller(sandbox)
    r = seller.raw(
        "POST",
        "/sessions/online",
        json={
            "formCode": FA3.to_dict(),
            "encryption": {
                "encryptedSymmetricKey": base64.b64encode(b"y" * 256).decode(),
                "initializationVector": base64.b64encode(b"z" * 16).decode(),
            },
        },
    )
    assert r.status_code == 201
    status = seller.raw("GET", f"/sessions/{r.json()['referenceNumber']}").json()
    assert status["status"]["code"] == 415


def test_token_without_invoice_write_gets_403_missing_permissions(sandbox: LiveSandbox) -> None:
    nip = fresh_nip()
    _, secret = make_token(sandbox.store, nip, ["InvoiceRead"])
    client = sandbox.client()
    access = authenticate_with_token(client, nip, secret)["access"]
    r = httpx.post(
        f"{sandbox.url}/v2/sessions/online",
        json={"formCode": FA3.to_dict()},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert r.status_code == 403
    body = r.json()
    assert body["reasonCode"] == "missing-permissions"
    assert "InvoiceWrite" in body["security"]["requiredAnyOfPermissions"]
