"""Cost-invoice download from KSeF, and moving a client's invoices with UPOs as a ZIP."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from integration.core.db import db
from integration.invoices import sync
from integration.invoices.models import CostSync, Invoice
from integration.jobs.runtime import current_runtime, exclusive
from integration.ksef_sandbox.cli import issue_invoices
from integration.ksef_sandbox.state import Invoice as KsefInvoice
from integration.quota import service as quota
from tests.conftest import World, signed_in
from tests.invoices.conftest import (
    Connected,
    client_nip,
    invoice_xml,
    post_xml,
    sandbox_store,
)

Connect = Callable[[FlaskClient, int], None]
SUPPLIER = "7740001454"


def _count(app: Flask, client_id: int) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.client_id == client_id)
            )
            or 0
        )


def _sync(http: FlaskClient, client_id: int, settle: Callable[[], int]) -> None:
    response = http.post(f"/api/v1/clients/{client_id}/invoices/sync", json={})
    assert response.status_code == 202, response.json
    settle()


@dataclass
class History:
    """A client with two accepted sales invoices and two downloaded cost invoices."""

    world: World
    http: FlaskClient
    client_id: int


@pytest.fixture
def history(ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]) -> History:
    w, http, client_id, nip = connected.world, connected.admin, connected.client_id, connected.nip
    for n in range(2):
        sent = post_xml(http, f"/api/v1/clients/{client_id}/invoices", invoice_xml(nip, f"S/{n}"))
        assert sent.status_code == 202
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, nip, 2, store.now())
    settle()
    _sync(http, client_id, settle)
    return History(w, http, client_id)


def test_cost_invoices_are_downloaded_once_and_incrementally(
    app: Flask,
    ksef_sandbox: Flask,
    make_world: Callable[..., World],
    connect_ksef: Connect,
    settle: Callable[[], int],
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    http = signed_in(app, w.accountant_email)
    connect_ksef(http, client_id)
    nip = client_nip(app, client_id)
    store = sandbox_store(ksef_sandbox)
    numbers = issue_invoices(store, SUPPLIER, nip, 3, store.now())
    issue_invoices(store, SUPPLIER, client_nip(app, w.client_ids[1]), 1, store.now())

    _sync(http, client_id, settle)
    costs = http.get(f"/api/v1/clients/{client_id}/invoices?direction=cost").json
    assert sorted(i["ksef_number"] for i in costs["items"]) == sorted(numbers)
    assert {i["seller_nip"] for i in costs["items"]} == {SUPPLIER}
    assert {i["source"] for i in costs["items"]} == {"synced"}
    xml = http.get(f"/api/v1/clients/{client_id}/invoices/{costs['items'][0]['id']}/xml")
    assert xml.status_code == 200
    assert nip.encode() in xml.data

    _sync(http, client_id, settle)  # nothing new: nothing doubled
    assert _count(app, client_id) == 3
    later = issue_invoices(store, SUPPLIER, nip, 1, store.now())
    _sync(http, client_id, settle)
    assert _count(app, client_id) == 4
    with app.app_context():
        state = db.session.get(CostSync, client_id)
        assert state is not None
        assert state.synced_until is not None
        assert state.downloaded == 4
        assert state.last_error == ""
        assert db.session.scalar(select(Invoice.id).where(Invoice.ksef_number == later[0]))


def test_a_read_only_client_is_neither_downloaded_nor_sent_nor_charged(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id, nip = connected.admin, connected.client_id, connected.nip
    queued = post_xml(http, f"/api/v1/clients/{client_id}/invoices", invoice_xml(nip, "RO/1"))
    assert queued.status_code == 202
    store = sandbox_store(ksef_sandbox)
    issue_invoices(store, SUPPLIER, nip, 2, store.now())
    declined = http.post(
        f"/api/v1/clients/{client_id}/registration", json={"action": "do_not_register"}
    )
    assert declined.json["state"] == "read_only"
    with app.app_context():
        before = quota.available(db.session, connected.world.bureau_id)
        assert sync.enqueue_all() >= 1  # the periodic download
    settle()
    refused = http.post(f"/api/v1/clients/{client_id}/invoices/sync", json={})
    assert refused.status_code == 409
    assert refused.json["type"].endswith("client-read-only")
    items = http.get(f"/api/v1/clients/{client_id}/invoices").json["items"]
    assert [(i["direction"], i["state"]) for i in items] == [("sales", "failed")]
    assert "not registered" in items[0]["error_description"]
    status = http.get(f"/api/v1/clients/{client_id}/invoices/sync").json
    assert "not registered" in status["last_error"]
    with app.app_context():
        assert quota.available(db.session, connected.world.bureau_id) == before
    with store.session() as s:  # KSeF never saw the queued invoice
        assert s.scalar(select(KsefInvoice).where(KsefInvoice.invoice_number == "RO/1")) is None
    assert http.get(f"/api/v1/clients/{client_id}/invoices/archive").status_code == 200


def _archive(http: FlaskClient, client_id: int) -> zipfile.ZipFile:
    response = http.get(f"/api/v1/clients/{client_id}/invoices/archive")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def _rebuild(
    source: zipfile.ZipFile, change: Callable[[dict[str, bytes], dict[str, Any]], None]
) -> bytes:
    files = {name: source.read(name) for name in source.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    change(files, manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("manifest.json", json.dumps(manifest))
    return buffer.getvalue()


def _new_home(app: Flask, make_world: Callable[..., World], nip: str) -> tuple[FlaskClient, int]:
    """Another bureau taking over the client with this NIP."""
    other = make_world()
    http = signed_in(app, other.admin_email)
    created = http.post(
        f"/api/v1/bureaus/{other.bureau_id}/clients", json={"nip": nip, "name": "Moved Sp. z o.o."}
    )
    assert created.status_code == 201, created.json
    return http, int(created.json["id"])


def _import(http: FlaskClient, client_id: int, data: bytes) -> Any:
    return post_xml(http, f"/api/v1/clients/{client_id}/invoices/archive", data, "application/zip")


def test_invoices_with_upos_move_to_another_bureau_and_back_again_unchanged(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    http, client_id = history.http, history.client_id
    archive = _archive(http, client_id)
    manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["invoices"]) == 4
    assert sum(1 for e in manifest["invoices"] if e["upo"]) == 2  # UPOs belong to sales

    new_http, new_id = _new_home(app, make_world, client_nip(app, client_id))
    archive_bytes = http.get(f"/api/v1/clients/{client_id}/invoices/archive").data
    imported = _import(new_http, new_id, archive_bytes)
    assert imported.status_code == 200, imported.json
    assert imported.json == {"created": 4, "skipped": 0}

    before = http.get(f"/api/v1/clients/{client_id}/invoices").json["items"]
    after = new_http.get(f"/api/v1/clients/{new_id}/invoices").json["items"]
    keys = ("ksef_number", "direction", "number", "sha256", "gross_amount", "has_upo")
    assert sorted(tuple(i[k] for k in keys) for i in after) == sorted(
        tuple(i[k] for k in keys) for i in before
    )
    sale = next(i for i in after if i["direction"] == "sales")
    original = next(i for i in before if i["ksef_number"] == sale["ksef_number"])
    assert (
        new_http.get(f"/api/v1/clients/{new_id}/invoices/{sale['id']}/upo").data
        == http.get(f"/api/v1/clients/{client_id}/invoices/{original['id']}/upo").data
    )
    again = _import(new_http, new_id, archive_bytes)
    assert again.json == {"created": 0, "skipped": 4}
    assert _count(app, new_id) == 4


def test_archive_with_errors_writes_nothing_and_names_every_problem(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    http, client_id = history.http, history.client_id
    source = _archive(http, client_id)
    new_http, new_id = _new_home(app, make_world, client_nip(app, client_id))

    def spoil(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        sales = [e for e in manifest["invoices"] if e["direction"] == "sales"]
        costs = [e for e in manifest["invoices"] if e["direction"] == "cost"]
        files[sales[0]["file"]] = files[sales[0]["file"]].replace(b"100.00", b"900.00")
        files[sales[1]["upo"]] = files[sales[0]["upo"]]  # someone else's receipt
        del files[costs[0]["file"]]
        manifest["invoices"].append(dict(costs[1]))

    response = _import(new_http, new_id, _rebuild(source, spoil))
    assert response.status_code == 422
    assert response.json["type"].endswith("archive-rejected")
    messages = " | ".join(f"{e['field']}: {e['message']}" for e in response.json["errors"])
    assert "SHA-256" in messages
    assert "does not acknowledge" in messages
    assert "missing from the archive" in messages
    assert "listed twice" in messages
    fields = {e["field"].split()[0] for e in response.json["errors"]}
    assert len(fields) == 4  # four entries, each named
    assert _count(app, new_id) == 0


def test_archive_of_another_company_or_not_a_zip_is_refused(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    w, http, client_id = history.world, history.http, history.client_id
    data = http.get(f"/api/v1/clients/{client_id}/invoices/archive").data
    other_client = w.client_ids[1]
    wrong = _import(http, other_client, data)
    assert wrong.status_code == 422
    assert "belongs to NIP" in wrong.json["detail"] + json.dumps(wrong.json["errors"])
    assert _import(http, other_client, b"PK\x03\x04 not really").status_code == 422
    assert _count(app, other_client) == 0


def test_bureau_export_holds_each_clients_invoice_archive(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    w, http, client_id = history.world, history.http, history.client_id
    export = zipfile.ZipFile(io.BytesIO(http.get(f"/api/v1/bureaus/{w.bureau_id}/export").data))
    inner = zipfile.ZipFile(io.BytesIO(export.read(f"{client_nip(app, client_id)}/invoices.zip")))
    assert len(json.loads(inner.read("manifest.json"))["invoices"]) == 4


def _bureau_import(http: FlaskClient, bureau_id: int, data: bytes) -> Any:
    return post_xml(http, f"/api/v1/bureaus/{bureau_id}/import", data, "application/zip")


def _clients(http: FlaskClient, bureau_id: int) -> dict[str, int]:
    listed = http.get(f"/api/v1/bureaus/{bureau_id}/clients").json["items"]
    return {c["nip"]: c["id"] for c in listed}


def test_a_whole_bureau_moves_to_a_new_account_with_clients_master_data_and_invoices(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    w, http, client_id = history.world, history.http, history.client_id
    products = "name,unit,vat_rate,net_price\nDoradztwo,h,23,200.00\n"
    assert (
        post_xml(
            http, f"/api/v1/clients/{client_id}/master-data/products", products.encode(), "text/csv"
        ).status_code
        == 200
    )
    export = http.get(f"/api/v1/bureaus/{w.bureau_id}/export").data
    new = make_world()
    new_http = signed_in(app, new.admin_email)
    before = _clients(new_http, new.bureau_id)

    moved = _bureau_import(new_http, new.bureau_id, export)
    assert moved.status_code == 200, moved.json
    assert moved.json["clients_created"] == 2
    assert moved.json["invoices_created"] == 4
    clients = _clients(new_http, new.bureau_id)
    assert set(clients) - set(before) == set(_clients(http, w.bureau_id))
    target = clients[client_nip(app, client_id)]
    assert _count(app, target) == 4
    names = [p["name"] for p in new_http.get(f"/api/v1/clients/{target}/products").json["items"]]
    assert "Doradztwo" in names
    fresh = new_http.get(f"/api/v1/clients/{target}").json
    assert fresh["licence"]["registration"] == "pending"  # a new client asks to be registered

    again = _bureau_import(new_http, new.bureau_id, export)
    assert again.status_code == 200
    assert (again.json["clients_created"], again.json["invoices_skipped"]) == (0, 4)
    assert _count(app, target) == 4


def test_a_bureau_export_with_any_bad_file_writes_nothing_and_names_each_problem(
    app: Flask, make_world: Callable[..., World], history: History
) -> None:
    w, http, client_id = history.world, history.http, history.client_id
    nip = client_nip(app, client_id)
    source = zipfile.ZipFile(io.BytesIO(http.get(f"/api/v1/bureaus/{w.bureau_id}/export").data))
    files = {name: source.read(name) for name in source.namelist()}
    files[f"{nip}/products.csv"] = b"name,unit,vat_rate,net_price\nZle,szt.,17,abc\n"
    inner = zipfile.ZipFile(io.BytesIO(files[f"{nip}/invoices.zip"]))

    def spoil(inner_files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        first = manifest["invoices"][0]["file"]
        inner_files[first] = inner_files[first].replace(b"100.00", b"999.00")

    files[f"{nip}/invoices.zip"] = _rebuild(inner, spoil)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    new = make_world()
    new_http = signed_in(app, new.admin_email)
    before = _clients(new_http, new.bureau_id)

    refused = _bureau_import(new_http, new.bureau_id, buffer.getvalue())
    assert refused.status_code == 422
    fields = [e["field"] for e in refused.json["errors"]]
    assert f"{nip}/products.csv row 2" in fields
    assert any(f.startswith(f"{nip}/invoices.zip invoices[1]") for f in fields)
    assert _clients(new_http, new.bureau_id) == before  # no client was added either


def test_only_a_bureau_admin_imports_a_bureau_and_garbage_is_refused(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    accountant = signed_in(app, w.accountant_email)
    assert _bureau_import(accountant, w.bureau_id, b"PK\x03\x04").status_code == 403
    admin = signed_in(app, w.admin_email)
    garbage = _bureau_import(admin, w.bureau_id, b"not a zip at all")
    assert garbage.status_code == 422
    assert "not a ZIP" in json.dumps(garbage.json)
    stranger = signed_in(app, make_world().admin_email)
    assert _bureau_import(stranger, w.bureau_id, b"PK").status_code == 404


def test_the_cost_download_survives_ksef_faults_and_completes_without_gap_or_duplicate(
    app: Flask,
    ksef_sandbox: Flask,
    connected: Connected,
    settle: Callable[[], int],
) -> None:
    store = sandbox_store(ksef_sandbox)
    issued = issue_invoices(store, SUPPLIER, connected.nip, 6, store.now())
    inner = ksef_sandbox.wsgi_app
    downloads = [0]

    def faulty(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        busy = path.endswith("/rate-limits")
        if environ["REQUEST_METHOD"] == "GET" and "/invoices/ksef/" in path:
            downloads[0] += 1
            busy = downloads[0] in (3, 5)
        if busy:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"busy"]
        return inner(environ, start_response)

    with app.app_context():
        current_runtime().redis().flushdb()  # no limits cached: they are asked for now
    ksef_sandbox.wsgi_app = faulty  # type: ignore[method-assign]
    try:
        _sync(connected.admin, connected.client_id, settle)
    finally:
        ksef_sandbox.wsgi_app = inner  # type: ignore[method-assign]
    costs = connected.admin.get(
        f"/api/v1/clients/{connected.client_id}/invoices?direction=cost"
    ).json["items"]
    assert sorted(i["ksef_number"] for i in costs) == sorted(issued)  # no gap, no duplicate
    with app.app_context():
        state = db.session.get(CostSync, connected.client_id)
        assert state is not None
        assert (state.downloaded, state.last_error) == (6, "")
    assert downloads[0] == 8  # two failed and were fetched again


def test_one_cost_download_of_a_client_runs_at_a_time(app: Flask, connected: Connected) -> None:
    with app.app_context():
        with exclusive(f"cost-sync:{connected.client_id}", dt.timedelta(minutes=1)) as mine:
            assert mine
            assert sync.sync_costs(connected.client_id) == "busy"
        assert sync.sync_costs(connected.client_id).startswith("stored")
