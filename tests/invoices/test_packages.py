"""Many sales invoices at once: a ZIP of FA(3) files sent through a KSeF batch session."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from integration.accounts.actor import SYSTEM
from integration.core.db import db
from integration.invoices import packages, sending
from integration.invoices.models import Invoice, State
from integration.ksef_sandbox.state import InvoiceSession
from integration.licensing import service as licensing
from integration.quota.models import QuotaEntry
from tests.invoices.conftest import Connected, invoice_xml, post_xml, sandbox_store


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _send_package(connected: Connected, data: bytes) -> Any:
    return post_xml(
        connected.http,
        f"/api/v1/clients/{connected.client_id}/invoices/packages",
        data,
        "application/zip",
    )


def _invoices(connected: Connected) -> list[dict[str, Any]]:
    listed = connected.http.get(
        f"/api/v1/clients/{connected.client_id}/invoices", query_string={"per_page": 200}
    )
    return list(listed.json["items"])


def _debits(app: Flask, client_id: int) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                select(func.count())
                .select_from(QuotaEntry)
                .where(QuotaEntry.client_id == client_id, QuotaEntry.kind == "send")
            )
            or 0
        )


def test_a_package_goes_to_ksef_in_one_batch_session_and_each_invoice_gets_its_number_and_upo(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    files = {f"march/FV-{n}.xml": invoice_xml(connected.nip, f"FV/P/{n}") for n in range(3)}
    queued = _send_package(connected, _zip(files))
    assert queued.status_code == 202, queued.json
    assert queued.json["queued"] == 3
    assert {i["channel"] for i in queued.json["items"]} == {"batch"}
    settle()
    done = _invoices(connected)
    assert [i["state"] for i in done] == ["accepted"] * 3
    assert all(i["ksef_number"] and i["has_upo"] for i in done)
    with app.app_context():
        references = set(db.session.scalars(select(Invoice.session_reference)))
    assert len(references) == 1
    with sandbox_store(ksef_sandbox).session() as s:
        session = s.get(InvoiceSession, references.pop())
        assert session is not None
        assert session.session_type == "Batch"
    assert _debits(app, connected.client_id) == 3
    upo = connected.http.get(
        f"/api/v1/clients/{connected.client_id}/invoices/{done[0]['id']}/upo"
    ).data
    assert done[0]["ksef_number"].encode() in upo


def test_ksef_judges_each_invoice_of_a_package_on_its_own(
    connected: Connected, settle: Callable[[], int]
) -> None:
    files = {  # no e-US notice: KSeF refuses the one with an attachment (415)
        "good.xml": invoice_xml(connected.nip, "FV/G/1"),
        "attached.xml": invoice_xml(connected.nip, "FV/G/2").replace(
            b"</Faktura>",
            b"<Zalacznik><BlokDanych><MetaDane><ZKlucz>Umowa</ZKlucz><ZWartosc>1</ZWartosc>"
            b"</MetaDane></BlokDanych></Zalacznik></Faktura>",
        ),
    }
    assert _send_package(connected, _zip(files)).status_code == 202
    settle()
    states = {i["number"]: (i["state"], i["error_code"]) for i in _invoices(connected)}
    assert states == {"FV/G/1": ("accepted", None), "FV/G/2": ("rejected", 415)}


def test_a_package_with_any_bad_file_queues_nothing_and_names_each_file(
    app: Flask, connected: Connected
) -> None:
    sent = post_xml(
        connected.http,
        f"/api/v1/clients/{connected.client_id}/invoices",
        invoice_xml(connected.nip, "FV/X/1"),
    )
    assert sent.status_code == 202
    files = {
        "ok.xml": invoice_xml(connected.nip, "FV/X/2"),
        "again.xml": invoice_xml(connected.nip, "FV/X/2"),
        "earlier.xml": invoice_xml(connected.nip, "FV/X/1"),
        "other-seller.xml": invoice_xml("7740001454", "FV/X/3"),
        "broken.xml": b"<Faktura>",
        "notes.txt": b"hello",
    }
    refused = _send_package(connected, _zip(files))
    assert refused.status_code == 422
    assert refused.json["type"].endswith("/package-rejected")
    named = {e["field"] for e in refused.json["errors"]}
    assert named == {"again.xml", "earlier.xml", "other-seller.xml", "broken.xml", "notes.txt"}
    assert len(_invoices(connected)) == 1  # only the invoice sent before
    assert _send_package(connected, b"not a zip").status_code == 422


def test_packages_need_the_batch_sending_module(app: Flask, connected: Connected) -> None:
    with app.app_context():
        licensing.issue_licence(
            SYSTEM,
            kind="application",
            plan="biuro",
            seats=10,
            bureau_id=connected.world.bureau_id,
        )
    refused = _send_package(connected, _zip({"a.xml": invoice_xml(connected.nip, "FV/M/1")}))
    assert refused.status_code == 403
    assert refused.json["module"] == "batch_sending"


def _crash(app: Flask, connected: Connected, **values: Any) -> dict[str, int]:
    """As if the worker died after closing the package, before anything was recorded and a
    minute before now (its claim lapsed); then the reconciler runs."""
    with app.app_context():
        db.session.execute(
            update(Invoice)
            .where(Invoice.client_id == connected.client_id)
            .values(
                state=State.SENDING,
                ksef_number=None,
                upo=None,
                lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
                **values,
            )
        )
        db.session.commit()
        return sending.reconcile()


def _batch_sessions(ksef_sandbox: Flask) -> int:
    with sandbox_store(ksef_sandbox).session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(InvoiceSession)
                .where(InvoiceSession.session_type == "Batch")
            )
            or 0
        )


def test_a_package_handed_to_ksef_before_a_crash_is_found_in_its_session_not_sent_again(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    files = {f"{n}.xml": invoice_xml(connected.nip, f"FV/R/{n}") for n in range(2)}
    assert _send_package(connected, _zip(files)).status_code == 202
    settle()
    original = {i["id"]: i["ksef_number"] for i in _invoices(connected)}
    assert all(original.values())
    sessions = _batch_sessions(ksef_sandbox)
    counts = _crash(app, connected)
    assert (counts["requeued"], counts["recover"]) == (0, 1)
    settle()
    recovered = _invoices(connected)
    assert {i["id"]: i["ksef_number"] for i in recovered} == original
    assert all(i["state"] == "accepted" and i["has_upo"] for i in recovered)
    assert _batch_sessions(ksef_sandbox) == sessions  # followed where it was, not sent again
    assert _debits(app, connected.client_id) == 2


def test_a_package_queued_again_though_ksef_had_it_is_recorded_as_the_original_once(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    files = {f"{n}.xml": invoice_xml(connected.nip, f"FV/R/{n}") for n in range(2)}
    assert _send_package(connected, _zip(files)).status_code == 202
    settle()
    original = {i["id"]: i["ksef_number"] for i in _invoices(connected)}
    sessions = _batch_sessions(ksef_sandbox)
    counts = _crash(app, connected, handed_at=None)  # not known to have been handed over
    assert counts["requeued"] == 2
    settle()
    recovered = _invoices(connected)
    assert {i["id"]: i["ksef_number"] for i in recovered} == original
    assert all(i["state"] == "accepted" and i["has_upo"] for i in recovered)
    assert all("already held" in i["error_description"] for i in recovered)
    assert _batch_sessions(ksef_sandbox) == sessions + 1
    assert _debits(app, connected.client_id) == 2


def test_invoice_page_sends_a_package_and_explains_a_bad_one(connected: Connected) -> None:
    page = connected.http.get(f"/clients/{connected.client_id}/invoices")
    assert "Send the package" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None

    def upload(data: bytes) -> Any:
        return connected.http.post(
            f"/clients/{connected.client_id}/invoices",
            data={"csrf_token": token.group(1), "action": "package",
                  "file": (io.BytesIO(data), "march.zip")},
            content_type="multipart/form-data",
        )  # fmt: skip

    bad = upload(_zip({"a.xml": invoice_xml("7740001454", "FV/W/1")}))
    assert bad.status_code == 422
    assert "a.xml" in bad.text
    good = upload(_zip({f"{n}.xml": invoice_xml(connected.nip, f"FV/W/{n}") for n in range(2)}))
    assert good.status_code == 303  # a reload does not send the package again
    shown = connected.http.get(good.headers["Location"])
    assert "2 invoices are queued for KSeF in one package." in shown.text


def test_a_package_that_unpacks_beyond_the_limit_is_refused_before_it_is_read(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"{n}.xml": invoice_xml(connected.nip, f"FV/B/{n}") for n in range(5)}
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", sum(len(x) for x in files.values()) - 1)
    refused = _send_package(connected, _zip(files))
    assert refused.status_code == 422
    assert "unpacks to more than" in refused.json["detail"]
    assert _invoices(connected) == []
