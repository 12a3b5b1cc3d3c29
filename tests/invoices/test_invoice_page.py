"""An invoice as people read it: the page shows its sections as the document gives them, and
KOD I decodes to exactly the link built from the file, which the local KSeF answers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
import zxingcpp
from flask import Flask
from lxml import etree
from PIL import Image
from pypdf import PdfReader

from integration.core.db import db
from integration.invoices.models import Invoice
from integration.xml import parsing, schemas
from tests.conftest import World, signed_in
from tests.invoices.conftest import Connected, client_nip, invoice_xml, post_xml
from tests.invoices.samples import correction, rich_vat_in_euro


@pytest.mark.parametrize("make", ["vat", "kor"])
def test_the_samples_are_valid_fa3(make: str) -> None:
    day = dt.date(2026, 11, 30)
    xml = (
        rich_vat_in_euro("1234563218", "FV/1", day)
        if make == "vat"
        else correction("1234563218", "KOR/1", day, "FV/1", "1234563218-20261130-0123456789AB-7C")
    )
    schemas.check_fa3(parsing.parse(xml))


def _stored(app: Flask, client_id: int, number: str) -> Invoice:
    with app.app_context():
        row = db.session.query(Invoice).filter_by(client_id=client_id, number=number).one()
        db.session.expunge(row)
        return row


def _sum_of(xml: bytes, field: str) -> Decimal:
    root = etree.fromstring(xml)
    return Decimal(root.xpath(f"string(//*[local-name()='{field}'])"))


def test_the_invoice_page_shows_the_sections_and_sums_of_the_document(
    connected: Connected, app: Flask, settle: Callable[[], int]
) -> None:
    issued = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    xml = rich_vat_in_euro(connected.nip, "FV/EUR/1", issued)
    assert post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", xml)
    settle()
    row = _stored(app, connected.client_id, "FV/EUR/1")
    page = connected.http.get(
        f"/clients/{connected.client_id}/invoices/{row.id}", headers={"Accept-Language": "pl"}
    )
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", " ", page.text.replace("\u00a0", " "))
    text = re.sub(r"\s+", " ", text)
    for shown in ("Ogrody Zielone Sp. z o.o.", "Hurtownia Flora S.A.", "Odbiorca",
                  "Magazyn Odbiorcy Sp. z o.o.", "Sadzonki tui szmaragd", "Ziemia ogrodowa",
                  "Mechanizm podzielonej płatności", "Metoda kasowa", "przelew",
                  "PL61109010140000071219812874", "ZAM/77/2026", "Dziękujemy za zakupy.",
                  "KRS: 0000123456", "Warszawa", "Przyjęta"):  # fmt: skip
        assert shown in text, shown
    total = _sum_of(xml, "P_15")
    assert f"{total:,.2f}".replace(",", " ").replace(".", ",") + " €" in text  # 1 770,00 €
    assert "981,13 zł" in text  # the VAT of the 23 % rate in złoty
    assert row.ksef_number
    assert row.ksef_number in text
    assert "UPO" in text


def test_a_correction_shows_the_corrected_invoice_and_the_rows_before_and_after(
    connected: Connected, app: Flask, settle: Callable[[], int]
) -> None:
    issued = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    original = invoice_xml(connected.nip, "FV/ORIG/1", issue_date=issued)
    post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", original)
    settle()
    first = _stored(app, connected.client_id, "FV/ORIG/1")
    assert first.ksef_number
    xml = correction(connected.nip, "KOR/1", issued, "FV/ORIG/1", first.ksef_number)
    post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", xml)
    settle()
    row = _stored(app, connected.client_id, "KOR/1")
    page = connected.http.get(
        f"/clients/{connected.client_id}/invoices/{row.id}", headers={"Accept-Language": "pl"}
    ).text
    assert "Faktura korygująca" in page
    assert "Rabat za terminową płatność" in page
    assert first.ksef_number in page.split('class="correction"')[1]
    assert page.count('class="before"') == 1  # the row as it was
    assert "-123,00 zł" in page.replace("\u00a0", " ")


def _decoded(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1
    return str(found[0].text)


def test_kod_i_decodes_to_the_link_built_from_the_file_and_the_local_ksef_answers_it(
    connected: Connected, app: Flask, settle: Callable[[], int], ksef_sandbox: Flask
) -> None:
    issued = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    xml = invoice_xml(connected.nip, "FV/QR/1", issue_date=issued)
    post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", xml)
    settle()
    row = _stored(app, connected.client_id, "FV/QR/1")
    token = base64.urlsafe_b64encode(hashlib.sha256(xml).digest()).decode().rstrip("=")
    expected = f"http://127.0.0.1:8765/invoice/{connected.nip}/{issued:%d-%m-%Y}/{token}"
    png = connected.http.get(f"/api/v1/clients/{connected.client_id}/invoices/{row.id}/qr")
    assert png.mimetype == "image/png"
    assert _decoded(png.data) == expected
    svg = connected.http.get(
        f"/api/v1/clients/{connected.client_id}/invoices/{row.id}/qr?format=svg"
    )
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    page = connected.http.get(f"/clients/{connected.client_id}/invoices/{row.id}").text
    assert row.ksef_number in page.split('id="kod-i"')[1].split("</figure>")[0]
    sandbox = httpx.Client(transport=httpx.WSGITransport(app=ksef_sandbox), base_url="http://k")
    answer = sandbox.get(expected.removeprefix("http://127.0.0.1:8765"),
                         headers={"Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["invoice"]["ksefNumber"] == row.ksef_number
    forged = sandbox.get(expected.removeprefix("http://127.0.0.1:8765")[:-4] + "AAAA",
                         headers={"Accept": "application/json"})  # fmt: skip
    assert forged.status_code == 404


def test_the_qr_host_follows_the_ksef_in_use() -> None:
    from integration.invoices import qr  # noqa: PLC0415

    assert qr.qr_base("https://api.ksef.mf.gov.pl/v2") == "https://qr.ksef.mf.gov.pl"
    assert qr.qr_base("https://api-test.ksef.mf.gov.pl/v2") == "https://qr-test.ksef.mf.gov.pl"
    assert qr.qr_base("https://api-demo.ksef.mf.gov.pl/v2") == "https://qr-demo.ksef.mf.gov.pl"
    assert qr.qr_base("http://127.0.0.1:8765/v2") == "http://127.0.0.1:8765"


def test_an_invoice_without_a_ksef_number_is_labelled_offline(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    nip = client_nip(app, w.client_ids[0])
    xml = invoice_xml(nip, "FV/OFF/1")
    sent = post_xml(http, f"/api/v1/clients/{w.client_ids[0]}/invoices", xml)
    assert sent.status_code == 202  # type: ignore[attr-defined]
    row = _stored(app, w.client_ids[0], "FV/OFF/1")
    page = http.get(f"/clients/{w.client_ids[0]}/invoices/{row.id}").text
    assert "<strong>OFFLINE</strong>" in page.split('id="kod-i"')[1]


def _pdf_text(data: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def test_the_pdf_holds_the_invoice_with_polish_letters_its_sums_and_the_upo(
    connected: Connected, app: Flask, settle: Callable[[], int]
) -> None:
    issued = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    xml = rich_vat_in_euro(connected.nip, "FV/EUR/PDF", issued)
    post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", xml)
    settle()
    row = _stored(app, connected.client_id, "FV/EUR/PDF")
    answer = connected.http.get(f"/api/v1/clients/{connected.client_id}/invoices/{row.id}/pdf")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    text = _pdf_text(answer.data)
    for shown in ("ul. Składowa 1, 80-001 Gdańsk", "Dziękujemy za zakupy.", "Odbiorca",
                  "Mechanizm podzielonej płatności", "Termin płatności", "ZAM/77/2026",
                  "URZĘDOWE POŚWIADCZENIE ODBIORU (UPO)"):  # fmt: skip
        assert shown in text, shown
    total = _sum_of(xml, "P_15")
    assert f"Kwota należności ogółem: {total:,.2f}".replace(",", " ").replace(".", ",") in text
    assert row.ksef_number
    assert row.ksef_number in text
    page = connected.http.get(f"/clients/{connected.client_id}/invoices/{row.id}/pdf")
    assert page.data[:5] == b"%PDF-"


def test_the_upo_is_shown_as_a_document_on_the_page_and_as_a_pdf(
    connected: Connected, app: Flask, settle: Callable[[], int]
) -> None:
    xml = invoice_xml(connected.nip, "FV/UPO/1")
    post_xml(connected.http, f"/api/v1/clients/{connected.client_id}/invoices", xml)
    settle()
    row = _stored(app, connected.client_id, "FV/UPO/1")
    page = connected.http.get(f"/clients/{connected.client_id}/invoices/{row.id}").text
    upo = page.split('id="upo"')[1]
    digest = base64.b64encode(hashlib.sha256(xml).digest()).decode()
    assert digest in upo  # the hash KSeF acknowledged is the file's
    assert row.session_reference
    assert row.session_reference in upo
    assert "Data nadania numeru KSeF" in upo
    answer = connected.http.get(f"/api/v1/clients/{connected.client_id}/invoices/{row.id}/upo.pdf")
    assert answer.mimetype == "application/pdf"
    text = _pdf_text(answer.data)
    assert "Urzędowe poświadczenie odbioru" in text
    assert row.ksef_number
    assert row.ksef_number in text
    assert digest in text
