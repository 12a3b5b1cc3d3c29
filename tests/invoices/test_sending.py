"""Sales invoices: submission checks, sending through KSeF sessions, outcomes, recovery."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from integration.core import clock
from integration.core.db import db
from integration.invoices import sending
from integration.invoices.documents import KSEF_NUMBER, read_invoice, read_upo
from integration.invoices.models import Invoice, State
from integration.jobs.runtime import current_runtime
from integration.ksef.budget import TRANSIENT_PAUSES
from integration.ksef_sandbox.cli import issue_invoices
from integration.ksef_sandbox.limits import PRODUCTION
from integration.ksef_sandbox.state import Invoice as KsefInvoice
from integration.ksef_sandbox.state import InvoiceSession as KsefSession
from integration.quota import service as quota
from integration.xml.parsing import XmlRejected
from tests.conftest import World, signed_in
from tests.invoices.conftest import (
    Connected,
    client_nip,
    invoice_xml,
    post_xml,
    sandbox_store,
)

Connect = Callable[[FlaskClient, int], None]


def _send(http: FlaskClient, client_id: int, xml: bytes) -> Any:
    return post_xml(http, f"/api/v1/clients/{client_id}/invoices", xml)


def _invoice(http: FlaskClient, client_id: int, invoice_id: int) -> dict[str, Any]:
    response = http.get(f"/api/v1/clients/{client_id}/invoices/{invoice_id}")
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_sales_invoice_is_sent_and_gets_its_ksef_number_and_upo(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    xml = invoice_xml(client_nip(app, client_id), "FV/1/2026")

    queued = _send(http, client_id, xml)
    assert queued.status_code == 202, queued.json
    assert queued.json["state"] == "queued"
    settle()

    done = _invoice(http, client_id, queued.json["id"])
    assert done["state"] == "accepted", done
    assert KSEF_NUMBER.match(done["ksef_number"])
    assert done["ksef_number"].startswith(client_nip(app, client_id))
    upo = http.get(f"/api/v1/clients/{client_id}/invoices/{done['id']}/upo")
    assert upo.status_code == 200
    digest = base64.b64encode(hashlib.sha256(xml).digest()).decode()
    [entry] = [e for e in read_upo(upo.data) if e.ksef_number == done["ksef_number"]]
    assert entry.sha256 == digest == done["sha256"]
    with sandbox_store(ksef_sandbox).session() as s:
        held = s.scalar(select(KsefInvoice).where(KsefInvoice.ksef_number == done["ksef_number"]))
        assert held is not None
        assert held.invoice_hash == digest
    listed = http.get(f"/api/v1/clients/{client_id}/invoices?direction=sales").json
    assert [i["id"] for i in listed["items"]] == [done["id"]]
    assert listed["licence"]["state"]  # the banner's data comes with the list


def test_several_invoices_go_in_one_session(
    app: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    nip = client_nip(app, client_id)
    ids = [_send(http, client_id, invoice_xml(nip, f"FV/{n}")).json["id"] for n in range(3)]
    settle()
    sent = [_invoice(http, client_id, i) for i in ids]
    assert {i["state"] for i in sent} == {"accepted"}
    assert len({i["ksef_number"] for i in sent}) == 3
    with app.app_context():
        sessions = set(db.session.scalars(select(Invoice.session_reference)))
    assert len(sessions) == 1


def test_invoice_of_another_seller_is_refused_before_anything_is_queued(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    other_nip = client_nip(app, w.client_ids[1])
    response = _send(http, w.client_ids[0], invoice_xml(other_nip, "FV/X"))
    assert response.status_code == 422
    assert other_nip in response.json["detail"]
    with app.app_context():
        assert db.session.scalar(select(Invoice.id)) is None


def test_invalid_fa3_is_refused_with_the_element_and_line(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    xml = invoice_xml(client_nip(app, w.client_ids[0]), "FV/1").replace(b"<P_15>", b"<P_15>x")
    response = _send(http, w.client_ids[0], xml)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors
    assert all("/Faktura/Fa/P_15" in e["message"] for e in errors)
    assert all(e["message"].startswith("line ") for e in errors)
    assert _send(http, w.client_ids[0], b"<a>").status_code == 422
    evil = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    assert _send(http, w.client_ids[0], evil).status_code == 422


def test_same_invoice_number_twice_is_a_conflict(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    nip = client_nip(app, w.client_ids[0])
    first = _send(http, w.client_ids[0], invoice_xml(nip, "FV/7"))
    again = _send(http, w.client_ids[0], invoice_xml(nip, "FV/7", net="5.00"))
    assert again.status_code == 409
    assert again.json["invoice_id"] == first.json["id"]


ATTACHMENT = (
    b"<Zalacznik><BlokDanych><MetaDane><ZKlucz>Umowa</ZKlucz><ZWartosc>12/2026</ZWartosc>"
    b"</MetaDane></BlokDanych></Zalacznik></Faktura>"
)


def _with_attachment(nip: str, number: str) -> bytes:
    return invoice_xml(nip, number).replace(b"</Faktura>", ATTACHMENT)


def test_ksef_rejection_is_recorded_with_its_code_reason_and_what_to_do(
    app: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    """An invoice with an attachment from a taxpayer without the e-US notice: KSeF says 415."""
    http, client_id = connected.http, connected.client_id
    invoice_id = _send(http, client_id, _with_attachment(connected.nip, "FV/F")).json["id"]
    settle()
    done = _invoice(http, client_id, invoice_id)
    assert done["state"] == "rejected"
    assert done["error_code"] == 415
    assert "załącznik" in done["error_description"].lower()  # KSeF's own words
    assert "e-Urząd Skarbowy" in done["error_description"]  # and what to do
    assert done["ksef_number"] is None
    assert done["has_upo"] is False


def test_without_credentials_the_invoice_fails_and_can_be_sent_again(
    app: Flask, make_world: Callable[..., World], connect_ksef: Connect, settle: Callable[[], int]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    http = signed_in(app, w.accountant_email)
    invoice_id = _send(http, client_id, invoice_xml(client_nip(app, client_id), "FV/C")).json["id"]
    settle()
    failed = _invoice(http, client_id, invoice_id)
    assert failed["state"] == "failed"
    assert "credentials" in failed["error_description"]

    connect_ksef(http, client_id)
    retried = http.post(f"/api/v1/clients/{client_id}/invoices/{invoice_id}/retry", json={})
    assert retried.status_code == 202, retried.json
    settle()
    assert _invoice(http, client_id, invoice_id)["state"] == "accepted"
    again = http.post(f"/api/v1/clients/{client_id}/invoices/{invoice_id}/retry", json={})
    assert again.status_code == 409


def test_crash_after_sending_is_reconciled_through_the_ksef_duplicate_answer(
    app: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    invoice_id = _send(http, client_id, invoice_xml(client_nip(app, client_id), "FV/D")).json["id"]
    settle()
    original = _invoice(http, client_id, invoice_id)
    assert original["state"] == "accepted"
    # As if the worker died after KSeF took the invoice, before anything was recorded.
    with app.app_context():
        db.session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(
                state=State.SENDING,
                ksef_number=None,
                ksef_reference=None,
                upo=None,
                session_reference=None,
                updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            )
        )
        db.session.commit()
        counts = sending.reconcile()
    assert counts["requeued"] == 1
    settle()
    recovered = _invoice(http, client_id, invoice_id)
    assert recovered["state"] == "accepted"
    assert recovered["ksef_number"] == original["ksef_number"]
    assert "already held" in recovered["error_description"]
    assert recovered["has_upo"] is True


def _sent_elsewhere(ksef_sandbox: Flask, seller_nip: str) -> tuple[str, str]:
    """An invoice the client sent to KSeF from other software: (invoice number, KSeF number)."""
    store = sandbox_store(ksef_sandbox)
    (ksef_number,) = issue_invoices(store, seller_nip, "5260250274", 1, dt.datetime.now(dt.UTC))
    with store.session() as s:
        held = s.scalar(select(KsefInvoice).where(KsefInvoice.ksef_number == ksef_number))
        assert held is not None
        return str(held.invoice_number), ksef_number


def test_duplicate_answer_for_another_document_rejects_naming_the_holder(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    number, holder = _sent_elsewhere(ksef_sandbox, connected.nip)
    ours = invoice_xml(connected.nip, number, net="999.00")  # same number, other content
    invoice_id = _send(http, client_id, ours).json["id"]
    settle()
    rejected = _invoice(http, client_id, invoice_id)
    assert rejected["state"] == "rejected"
    assert rejected["ksef_number"] is None
    assert rejected["has_upo"] is False
    assert rejected["error_code"] == 440
    assert holder in rejected["error_description"]
    with app.app_context():
        assert quota.available(db.session, connected.world.bureau_id) == 1000  # nothing paid


def test_duplicate_answer_for_our_document_is_judged_by_the_file_when_no_upo_is_readable(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    """The original's session is not visible to us (other context): its file decides."""
    http, client_id = connected.http, connected.client_id
    _, holder = _sent_elsewhere(ksef_sandbox, connected.nip)
    store = sandbox_store(ksef_sandbox)
    with store.session() as s:
        held = s.scalar(select(KsefInvoice).where(KsefInvoice.ksef_number == holder))
        assert held is not None
        xml = bytes(held.xml)
        session = s.get(KsefSession, held.session_reference)
        assert session is not None
        session.context_value = "1111111111"  # sent in another context
    invoice_id = _send(http, client_id, xml).json["id"]
    settle()
    accepted = _invoice(http, client_id, invoice_id)
    assert accepted["state"] == "accepted"
    assert accepted["ksef_number"] == holder


def test_an_invoice_with_an_attachment_travels_in_a_batch_session_and_says_why(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    consent = ksef_sandbox.test_client().post(
        "/v2/testdata/attachment", json={"nip": connected.nip}
    )
    assert consent.status_code == 200
    queued = _send(http, client_id, _with_attachment(connected.nip, "FV/ZAL/1"))
    assert queued.status_code == 202, queued.json
    assert queued.json["channel"] == "batch"
    assert "attachment" in queued.json["error_description"]
    assert "batch session" in queued.json["error_description"]
    settle()
    sent = _invoice(http, client_id, queued.json["id"])
    assert sent["state"] == "accepted", sent
    assert KSEF_NUMBER.match(sent["ksef_number"])


def test_only_an_invoice_with_an_attachment_may_exceed_a_million_bytes() -> None:
    nip = "5260250274"
    padding = b"<!--" + b"x" * 1_000_000 + b"-->"
    big = invoice_xml(nip, "FV/BIG").replace(b"<Naglowek>", b"<Naglowek>" + padding)
    with pytest.raises(XmlRejected, match="1000000 bytes"):
        read_invoice(big)
    with_attachment = _with_attachment(nip, "FV/BIG").replace(
        b"<Naglowek>", b"<Naglowek>" + padding
    )
    assert read_invoice(with_attachment).has_attachment is True


@pytest.fixture
def late_evening() -> Any:
    """23:30 in Warsaw on 1 December 2026 (22:30 UTC)."""
    previous = clock.install(clock.FrozenClock(dt.datetime(2026, 12, 1, 22, 30, tzinfo=dt.UTC)))
    yield
    clock.install(previous)


@pytest.mark.usefixtures("late_evening")
@pytest.mark.parametrize(
    ("issued", "refused"),
    [
        (dt.date(2026, 12, 1), False),
        (dt.date(2026, 12, 2), True),  # still the 1st in Poland
        (dt.date(2027, 6, 19), True),  # 200 days ahead
    ],
)
def test_an_issue_date_after_today_in_poland_is_refused_at_intake(
    app: Flask, connected: Connected, issued: dt.date, refused: bool
) -> None:
    xml = invoice_xml(connected.nip, f"FV/D/{issued}", issue_date=issued)
    r = _send(connected.http, connected.client_id, xml)
    if refused:
        assert r.status_code == 422, r.json
        assert "P_1" in r.json["detail"]
        assert "01.12.2026" in r.json["detail"]
    else:
        assert r.status_code == 202, r.json


def test_an_issue_date_of_tomorrow_in_utc_is_today_in_poland(
    app: Flask, connected: Connected
) -> None:
    previous = clock.install(clock.FrozenClock(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)))
    try:
        xml = invoice_xml(connected.nip, "FV/D/PL", issue_date=dt.date(2026, 12, 2))
        assert _send(connected.http, connected.client_id, xml).status_code == 202
    finally:
        clock.install(previous)


def test_a_package_names_the_file_with_a_future_issue_date(
    app: Flask, connected: Connected
) -> None:
    tomorrow = clock.today_in_poland() + dt.timedelta(days=1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ok.xml", invoice_xml(connected.nip, "FV/P/1"))
        zf.writestr("future.xml", invoice_xml(connected.nip, "FV/P/2", issue_date=tomorrow))
    r = post_xml(
        connected.http,
        f"/api/v1/clients/{connected.client_id}/invoices/packages",
        buffer.getvalue(),
        "application/zip",
    )
    assert r.status_code == 422, r.json
    assert [e["field"] for e in r.json["errors"]] == ["future.xml"]
    assert "P_1" in r.json["errors"][0]["message"]


def test_read_only_client_cannot_send_but_still_reads_and_exports(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    http = signed_in(app, w.admin_email)
    declined = http.post(
        f"/api/v1/clients/{client_id}/registration", json={"action": "do_not_register"}
    )
    assert declined.status_code == 200, declined.json
    refused = _send(http, client_id, invoice_xml(client_nip(app, client_id), "FV/R"))
    assert refused.status_code == 409
    assert refused.json["type"].endswith("client-read-only")
    assert http.get(f"/api/v1/clients/{client_id}/invoices").status_code == 200
    assert http.get(f"/api/v1/clients/{client_id}/invoices/archive").status_code == 200


def test_client_people_send_only_when_the_bureau_allows_it(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    owner = signed_in(app, w.client_admin_email)
    xml = invoice_xml(client_nip(app, client_id), "FV/S")
    assert _send(owner, client_id, xml).status_code == 403
    assert (
        owner.patch(f"/api/v1/clients/{client_id}", json={"client_may_send": True}).status_code
        == 403
    )
    bureau = signed_in(app, w.admin_email)
    allowed = bureau.patch(f"/api/v1/clients/{client_id}", json={"client_may_send": True})
    assert allowed.status_code == 200
    assert allowed.json["client_may_send"] is True
    assert _send(owner, client_id, xml).status_code == 202
    # another client's people never see this client
    assert _send(owner, w.client_ids[1], xml).status_code == 404


def test_invoice_page_sends_a_file_and_shows_readable_errors(
    app: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    http, client_id = connected.http, connected.client_id
    page = http.get(f"/clients/{client_id}/invoices")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None

    def post(name: str, data: bytes) -> Any:
        return http.post(
            f"/clients/{client_id}/invoices",
            data={"csrf_token": token.group(1), "action": "send", "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    bad = post("broken.xml", b"<Faktura>")
    assert bad.status_code == 422
    assert "not well-formed" in bad.text
    good = post("fv.xml", invoice_xml(client_nip(app, client_id), "FV/WEB/1"))
    assert good.status_code == 303  # a reload does not send it again
    assert "FV/WEB/1 is queued" in http.get(good.headers["Location"]).text
    settle()
    shown = http.get(f"/clients/{client_id}/invoices").text
    assert ">Accepted<" in shown
    assert ">UPO<" in shown


def test_erp_token_reads_invoices_with_read_scope_and_sends_only_with_write_scope(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    xml = invoice_xml(client_nip(app, client_id), "FV/ERP/1")
    reader = make_token(bureau_id=w.bureau_id, scopes="invoices:read")
    http = app.test_client()
    auth = {"Authorization": f"Bearer {reader}"}
    assert http.get(f"/api/v1/clients/{client_id}/invoices", headers=auth).status_code == 200
    refused = http.post(
        f"/api/v1/clients/{client_id}/invoices",
        data=xml,
        content_type="application/xml",
        headers=auth,
    )
    assert refused.status_code == 403
    assert refused.json["required_scope"] == "invoices:write"
    writer = make_token(bureau_id=w.bureau_id, scopes="invoices:read invoices:write")
    sent = http.post(
        f"/api/v1/clients/{client_id}/invoices",
        data=xml,
        content_type="application/xml",
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert sent.status_code == 202, sent.json


def test_invoices_queued_together_wait_in_one_job_and_the_rest_follow_up(
    app: Flask,
    connected: Connected,
    settle: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http, client_id = connected.http, connected.client_id
    monkeypatch.setattr(sending, "MAX_PER_SESSION", 2)  # a session takes two, five wait
    for n in range(5):
        _send(http, client_id, invoice_xml(connected.nip, f"FV/J/{n}"))
    with app.app_context():
        queue = current_runtime().queue("ksef")
        sending_jobs = [j for j in queue.job_ids if j.startswith("invoice-send")]
        assert len(sending_jobs) == 1  # one job for the five, not five
    ran = settle()
    states = [i["state"] for i in http.get(f"/api/v1/clients/{client_id}/invoices").json["items"]]
    assert states == ["accepted"] * 5
    assert ran < 15  # three sending jobs (2 + 2 + 1) and their checks


def test_the_same_invoice_submitted_many_times_at_once_is_queued_once(
    app: Flask, connected: Connected, make_token: Callable[..., str], settle: Callable[[], int]
) -> None:
    """An ERP retrying after a timeout: of each pair sent at the same instant one is queued,
    the other refused as a duplicate, and every invoice settles."""
    token = make_token(bureau_id=connected.world.bureau_id)
    url = f"/api/v1/clients/{connected.client_id}/invoices"
    answers: list[int] = []
    lock = threading.Lock()

    def submit(number: str, gate: threading.Barrier) -> None:
        http = app.test_client()
        gate.wait()
        r = http.post(
            url,
            data=invoice_xml(connected.nip, number),
            content_type="application/xml",
            headers={"Authorization": f"Bearer {token}"},
        )
        with lock:
            answers.append(r.status_code)

    for n in range(10):
        gate = threading.Barrier(2)
        pair = [threading.Thread(target=submit, args=(f"FV/PAIR/{n}", gate)) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
    assert sorted(answers) == [202] * 10 + [409] * 10
    settle()
    items = http_items(connected)
    assert len(items) == 10
    assert {i["state"] for i in items} == {"accepted"}


def http_items(connected: Connected) -> list[dict[str, Any]]:
    return connected.http.get(  # type: ignore[no-any-return]
        f"/api/v1/clients/{connected.client_id}/invoices?per_page=200"
    ).json["items"]


def test_one_invoice_whose_outcome_cannot_be_recorded_does_not_hold_up_the_others(
    app: Flask, connected: Connected, settle: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        connected.send(f"FV/ISO/{n}")
    items = http_items(connected)
    poisoned = min(i["id"] for i in items)
    real = sending._settle

    def failing(run: Any, invoice_id: int, *args: Any) -> None:
        if invoice_id == poisoned:
            raise RuntimeError("a fault in recording this one")
        real(run, invoice_id, *args)

    monkeypatch.setattr(sending, "_settle", failing)
    with pytest.raises(AssertionError, match="did not settle"):  # the bad row is asked again
        settle(rounds=6)
    states = {i["id"]: i["state"] for i in http_items(connected)}
    assert states.pop(poisoned) == "processing"
    assert set(states.values()) == {"accepted"}
    monkeypatch.setattr(sending, "_settle", real)
    settle()
    assert {i["state"] for i in http_items(connected)} == {"accepted"}


def test_back_off_counts_failures_in_a_row_and_work_done_ends_the_streak(
    app: Flask, ksef_sandbox: Flask, connected: Connected, run_jobs: Callable[[], int]
) -> None:
    """KSeF sends two invoices, then fails as many calls in a row as a job tries (longer than
    it waits out), and so on: each job sends two, then waits a second, however many faults
    came before (not 2, 4, 8 ... seconds)."""
    for n in range(9):
        connected.send(f"FV/STREAK/{n}")
    inner = ksef_sandbox.wsgi_app
    sent = [0]
    cycle = 2 + len(TRANSIENT_PAUSES) + 1

    def faults_for_a_while(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/invoices"):
            sent[0] += 1
            if sent[0] % cycle not in (1, 2):  # two go through, then a job's every try fails
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"busy"]
        return inner(environ, start_response)

    ksef_sandbox.wsgi_app = faults_for_a_while  # type: ignore[method-assign]
    attempts: list[int] = []
    streaks: list[int] = []
    ids: list[str] = []
    try:
        with app.app_context():
            queue = current_runtime().queue("ksef")
            registry = ScheduledJobRegistry(queue=queue)
            for _ in range(6):
                run_jobs()
                for scheduled in registry.get_job_ids():
                    job = queue.fetch_job(scheduled)
                    registry.remove(scheduled)
                    assert job is not None
                    if job.func_name.endswith("send_queued"):
                        attempts.append(int(job.kwargs.get("attempt", 0)))
                        streaks.append(int(job.kwargs.get("streak", 0)))
                        ids.append(job.id)
                        queue.enqueue_job(job)
    finally:
        ksef_sandbox.wsgi_app = inner  # type: ignore[method-assign]
    assert len(attempts) >= 3  # three faults, three follow-ups
    assert set(streaks) == {1}  # each the first failure of its streak: 1, 1, 1, not 1, 2, 3
    assert len(set(ids)) == len(ids)  # while every job has an id of its own


def test_closing_a_session_is_counted_in_the_budget_so_no_429_reaches_the_sender(
    app: Flask, ksef_sandbox: Flask, connected: Connected, run_jobs: Callable[[], int]
) -> None:
    """Four session calls a minute: two sessions (open, close) fit; the third waits."""
    limits = dict(PRODUCTION)
    limits["onlineSession"] = (10, 4, 120)
    ksef_sandbox.extensions["ksef_sandbox.limiter"].overrides[connected.nip] = limits
    inner = ksef_sandbox.wsgi_app
    answers: list[tuple[str, int]] = []

    def watched(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            answers.append((environ["PATH_INFO"], int(status[:3])))
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    ksef_sandbox.wsgi_app = watched  # type: ignore[method-assign]
    try:
        for n in range(3):
            connected.send(f"FV/CLOSE/{n}")
            run_jobs()
    finally:
        ksef_sandbox.wsgi_app = inner  # type: ignore[method-assign]
    session_calls = [code for path, code in answers if path.startswith("/v2/sessions/online")
                     and not path.endswith("/invoices")]  # fmt: skip
    assert 429 not in [code for _, code in answers]
    assert len(session_calls) == 4  # two opened and closed; the third session waits
    with app.app_context():
        states = db.session.scalars(
            select(Invoice.state).where(Invoice.client_id == connected.client_id)
        ).all()
        waiting = ScheduledJobRegistry(queue=current_runtime().queue("ksef")).get_job_ids()
    assert sorted(states) == sorted([State.PROCESSING] * 2 + [State.QUEUED])
    assert any(job.startswith("invoice-send") for job in waiting)


def test_a_fault_of_a_moment_is_waited_out_in_the_same_session(
    app: Flask, ksef_sandbox: Flask, connected: Connected, settle: Callable[[], int]
) -> None:
    for n in range(4):
        connected.send(f"FV/MOMENT/{n}")
    inner = ksef_sandbox.wsgi_app
    sent = [0]

    def one_fault(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/invoices"):
            sent[0] += 1
            if sent[0] == 2:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"busy"]
        return inner(environ, start_response)

    ksef_sandbox.wsgi_app = one_fault  # type: ignore[method-assign]
    try:
        settle()
    finally:
        ksef_sandbox.wsgi_app = inner  # type: ignore[method-assign]
    with app.app_context():
        rows = db.session.execute(
            select(Invoice.state, Invoice.session_reference, Invoice.attempts).where(
                Invoice.client_id == connected.client_id
            )
        ).all()
    assert [state for state, _, _ in rows] == [State.ACCEPTED] * 4
    assert len({session for _, session, _ in rows}) == 1  # one session, kept across the fault
    assert {attempts for _, _, attempts in rows} == {1}  # nothing went back to the queue
    assert sent[0] == 5  # four invoices, one of them tried twice
