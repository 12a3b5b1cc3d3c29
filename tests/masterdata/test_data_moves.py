"""Master data moves: CSV and XLSX round trips; a file with errors writes nothing."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from integration.core.db import db
from integration.masterdata.models import Counterparty, Product
from tests.conftest import World, signed_in

COUNTERPARTIES = (
    "nip,name,country,address,email\n"
    "526-025-02-74,Dostawca Papieru Sp. z o.o.,PL,ul. Papierowa 1,biuro@papier.example\n"
    ",Obcy Kontrahent GmbH,de,Berlin,\n"
)
PRODUCTS = 'name,unit,vat_rate,net_price\nUsługa księgowa,h,23,150.00\nKsiążka,szt.,5,"39,90"\n'


def _upload(http: FlaskClient, client_id: int, kind: str, data: bytes, fmt: str = "csv"):  # type: ignore[no-untyped-def]
    return http.post(
        f"/api/v1/clients/{client_id}/master-data/{kind}?format={fmt}",
        data=data,
        content_type="text/csv" if fmt == "csv" else "application/octet-stream",
        headers={"X-Requested-With": "test"},
    )


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_csv_round_trip_moves_counterparties_and_products_to_another_client(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    source, target = w.client_ids
    assert _upload(http, source, "counterparties", COUNTERPARTIES.encode()).json == {
        "created": 2,
        "updated": 0,
    }
    assert _upload(http, source, "products", PRODUCTS.encode()).json["created"] == 2
    for kind in ("counterparties", "products"):
        exported = http.get(f"/api/v1/clients/{source}/master-data/{kind}?format=csv")
        assert exported.mimetype == "text/csv"
        assert _upload(http, target, kind, exported.data).status_code == 200
        again = http.get(f"/api/v1/clients/{target}/master-data/{kind}?format=csv")
        assert again.data == exported.data
    with app.app_context():
        nips = set(
            db.session.scalars(select(Counterparty.nip).where(Counterparty.client_id == target))
        )
        price = db.session.scalar(
            select(Product.net_price).where(Product.name == "Książka", Product.client_id == target)
        )
    assert nips == {"5260250274", None}
    assert str(price) == "39.90"


def test_xlsx_round_trip(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    _upload(http, w.client_ids[0], "products", PRODUCTS.encode())
    xlsx = http.get(f"/api/v1/clients/{w.client_ids[0]}/master-data/products?format=xlsx").data
    rows = list(load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0] == ("name", "unit", "vat_rate", "net_price")
    assert _upload(http, w.client_ids[1], "products", xlsx, fmt="xlsx").json["created"] == 2


def test_file_with_errors_reports_every_row_and_writes_nothing(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["nip", "name", "country", "address", "email"])
    sheet.append(["1112223332", "Dobry", "PL", "", ""])
    sheet.append(["5260250275", "Zła suma", "PL", "", ""])
    sheet.append(["", "", "POL", "", "nie-mail"])
    sheet.append(["111-222-33-32", "Powtórzony", "PL", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    r = _upload(http, w.client_ids[0], "counterparties", buffer.getvalue(), fmt="xlsx")
    assert r.status_code == 422
    assert r.json["type"].endswith("/import-rejected")
    by_row: dict[str, list[str]] = {}
    for error in r.json["errors"]:
        by_row.setdefault(error["field"], []).append(error["message"])
    assert set(by_row) == {"row 3", "row 4", "row 5"}
    assert any("check digit" in m for m in by_row["row 3"])
    assert len(by_row["row 4"]) == 3  # name, country, e-mail
    assert by_row["row 5"] == ["duplicates row 2"]
    assert _count(app, Counterparty) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"wrong,header\n1,2\n", "first row must be"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(
    app: Flask, make_world: Callable[..., World], data: bytes, message: str
) -> None:
    w = make_world()
    r = _upload(signed_in(app, w.admin_email), w.client_ids[0], "products", data)
    assert r.status_code == 422
    assert message in r.json["detail"]


def test_garbage_xlsx_is_422_not_500(app: Flask, make_world: Callable[..., World]) -> None:
    w = make_world()
    r = _upload(
        signed_in(app, w.admin_email), w.client_ids[0], "products", b"PK\x03\x04nope", fmt="xlsx"
    )
    assert r.status_code == 422


def test_bureau_export_zip_contains_every_client(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    _upload(http, w.client_ids[0], "products", PRODUCTS.encode())
    archive = zipfile.ZipFile(io.BytesIO(http.get(f"/api/v1/bureaus/{w.bureau_id}/export").data))
    names = archive.namelist()
    assert len(names) == 7  # the manifest; two clients: counterparties, products, invoices each
    manifest = json.loads(archive.read("manifest.json"))
    assert sorted(c["nip"] + "/invoices.zip" for c in manifest["clients"]) == sorted(
        n for n in names if n.endswith("/invoices.zip")
    )
    assert sum(name.endswith("/invoices.zip") for name in names) == 2
    assert any(
        name.endswith("products.csv") and "Usługa" in archive.read(name).decode("utf-8-sig")
        for name in archive.namelist()
    )
