"""Finding invoices: by number, KSeF number, a party's NIP or name, issue dates; page by page."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from flask import Flask
from openpyxl import load_workbook

from integration.core.db import db
from integration.invoices.documents import read_invoice
from integration.invoices.models import Direction, Source, State
from integration.invoices.service import invoice_from
from integration.ksef_sandbox import testkit
from tests.conftest import World, signed_in

BUYERS = [("5260250274", "Hurtownia Papieru Sp. z o.o."), ("7740001454", "Drukarnia Orlen")]


def _history(app: Flask, client_id: int, seller: str, count: int) -> None:
    """``count`` accepted sales invoices, one a day, to alternating buyers."""
    with app.app_context():
        for n in range(count):
            buyer, name = BUYERS[n % 2]
            xml = testkit.fa3_invoice(
                seller_nip=seller,
                buyer_nip=buyer,
                buyer_name=name,
                number=f"FV/{n:03d}/2026",
                issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=n),
            )
            db.session.add(
                invoice_from(
                    read_invoice(xml),
                    xml,
                    client_id=client_id,
                    direction=Direction.SALES,
                    state=State.ACCEPTED,
                    source=Source.IMPORTED,
                    ksef_number=f"{seller}-20260101-{n:012X}-00",
                )
            )
        db.session.commit()


def _nip(app: Flask, make_world: Callable[..., World]) -> tuple[World, str]:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    return w, http.get(f"/api/v1/clients/{w.client_ids[0]}").json["nip"]


def test_invoices_are_found_by_number_party_and_issue_dates(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w, nip = _nip(app, make_world)
    _history(app, w.client_ids[0], nip, 10)
    http = signed_in(app, w.accountant_email)
    url = f"/api/v1/clients/{w.client_ids[0]}/invoices"

    def numbers(**query: str) -> list[str]:
        found = http.get(url, query_string=query)
        assert found.status_code == 200, found.json
        return sorted(i["number"] for i in found.json["items"])

    assert numbers(q="fv/003") == ["FV/003/2026"]
    assert numbers(q="drukarnia") == [f"FV/{n:03d}/2026" for n in range(1, 10, 2)]
    assert numbers(q="526025") == [f"FV/{n:03d}/2026" for n in range(0, 10, 2)]
    assert numbers(q="-20260101-000000000007") == ["FV/007/2026"]
    assert numbers(issued_from="2026-01-09") == ["FV/008/2026", "FV/009/2026"]
    assert numbers(issued_to="2026-01-02", q="papier") == ["FV/000/2026"]
    assert http.get(url, query_string={"issued_from": "yesterday"}).status_code == 422


def test_the_invoice_page_searches_and_pages_through_many_invoices(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w, nip = _nip(app, make_world)
    _history(app, w.client_ids[0], nip, 105)
    http = signed_in(app, w.accountant_email)
    first = http.get(f"/clients/{w.client_ids[0]}/invoices")
    assert "page 1 of 2" in first.text
    assert 'name="q" value=""' in first.text  # an empty search box, not "None"
    assert "FV/104/2026" in first.text  # the newest first
    assert "FV/004/2026" not in first.text
    second = http.get(f"/clients/{w.client_ids[0]}/invoices", query_string={"page": 2})
    assert "FV/004/2026" in second.text
    assert "« newer" in second.text
    found = http.get(f"/clients/{w.client_ids[0]}/invoices", query_string={"q": "FV/042"})
    assert "FV/042/2026" in found.text
    assert "1 found" in found.text
    inbox = http.get(f"/bureaus/{w.bureau_id}/invoices", query_string={"view": "sales"})
    assert "page 1 of 2" in inbox.text


def test_the_register_of_invoices_is_a_spreadsheet_of_the_narrowed_list(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w, nip = _nip(app, make_world)
    _history(app, w.client_ids[0], nip, 6)
    http = signed_in(app, w.accountant_email)
    url = f"/api/v1/clients/{w.client_ids[0]}/invoices/register"
    sheet = http.get(url, query_string={"q": "drukarnia"})
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.data), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("direction", "number", "type")
    assert [r[1] for r in rows[1:]] == ["FV/001/2026", "FV/003/2026", "FV/005/2026"]
    assert {r[7] for r in rows[1:]} == {"Drukarnia Orlen"}
    assert rows[1][8] == 123  # gross amount, a number the spreadsheet can add up
    text = http.get(url, query_string={"format": "csv", "issued_to": "2026-01-02"}).data
    lines = text.decode("utf-8-sig").splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("sales;FV/000/2026;VAT;2026-01-01;")  # as Polish Excel opens it
    assert ";123,00;PLN;" in lines[1]
    page_link = http.get(f"/clients/{w.client_ids[0]}/invoices/register.csv?q=FV/004")
    assert page_link.data.decode("utf-8-sig").count("FV/004/2026") == 1
    other = signed_in(app, make_world().admin_email)
    assert other.get(url).status_code == 404
