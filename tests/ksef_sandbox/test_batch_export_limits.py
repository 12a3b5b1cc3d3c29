"""Batch sessions, exports, rate limits and injected faults."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import httpx
import pytest
from ksef_client.openapi_models import FormCode, OpenBatchSessionRequest
from ksef_client.services.batch import encrypt_batch_parts
from ksef_client.services.crypto import build_encryption_data
from ksef_client.services.workflows import BatchUploadHelper, ExportWorkflow

from integration.ksef_sandbox import testkit
from integration.ksef_sandbox.cli import issue_invoices, make_token
from integration.ksef_sandbox.limits import Faults
from integration.ksef_sandbox.state import Challenge
from tests.ksef_sandbox.conftest import (
    LiveSandbox,
    PresignedHttp,
    authenticate_with_token,
    fresh_nip,
    wait_for,
)

FA3 = FormCode(system_code="FA (3)", schema_version="1-0E", value="FA")


def _login(live: LiveSandbox, rights: list[str]) -> tuple[Any, str, str]:
    nip = fresh_nip()
    _, secret = make_token(live.store, nip, rights)
    client = live.client()
    return client, authenticate_with_token(client, nip, secret)["access"], nip


def _sym_cert(client: Any) -> Any:
    return next(
        c
        for c in client.security.get_public_key_certificates()
        if "SymmetricKeyEncryption" in str(c.usage)
    )


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_batch_session_with_three_parts_accepts_every_invoice(sandbox: LiveSandbox) -> None:
    client, access, nip = _login(sandbox, ["InvoiceWrite"])
    today = dt.datetime.now(dt.UTC).date()
    files = {
        f"fv-{i}.xml": testkit.fa3_invoice(
            seller_nip=nip, buyer_nip="5260250274", number=f"FV/B/{i}", issue_date=today
        )
        for i in range(5)
    }
    archive = _zip(files)
    enc = build_encryption_data(_sym_cert(client).certificate)
    parts, info = encrypt_batch_parts(archive, enc.key, enc.iv, max_part_size=len(archive) // 3 + 1)
    assert len(parts) == 3
    opened = client.sessions.open_batch_session(
        OpenBatchSessionRequest(form_code=FA3, batch_file=info, encryption=enc.encryption_info),
        access_token=access,
    )
    BatchUploadHelper(PresignedHttp()).upload_parts(opened.part_upload_requests, parts)
    client.sessions.close_batch_session(opened.reference_number, access_token=access)
    sandbox.drain()
    status = wait_for(
        lambda: (
            (
                s := client.sessions.get_session_status(
                    opened.reference_number, access_token=access
                )
            ).status.code
            == 200
            and s
        )
    )
    assert status.successful_invoice_count == 5
    listed = client.sessions.get_session_invoices(opened.reference_number, access_token=access)
    assert sorted(i.invoice_file_name for i in listed.invoices) == sorted(files)


def test_batch_close_without_every_part_is_21205(sandbox: LiveSandbox) -> None:
    client, access, _ = _login(sandbox, ["InvoiceWrite"])
    archive = _zip({"a.xml": b"<a/>" * 100})
    enc = build_encryption_data(_sym_cert(client).certificate)
    parts, info = encrypt_batch_parts(archive, enc.key, enc.iv, max_part_size=len(archive) // 2 + 1)
    opened = client.sessions.open_batch_session(
        OpenBatchSessionRequest(form_code=FA3, batch_file=info, encryption=enc.encryption_info),
        access_token=access,
    )
    BatchUploadHelper(PresignedHttp()).upload_parts(
        opened.part_upload_requests, parts, skip_ordinals=[2]
    )
    r = httpx.post(
        f"{sandbox.url}/v2/sessions/batch/{opened.reference_number}/close",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert r.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 21205


def test_batch_upload_url_cannot_be_forged(sandbox: LiveSandbox) -> None:
    client, access, _ = _login(sandbox, ["InvoiceWrite"])
    archive = _zip({"a.xml": b"<a/>"})
    enc = build_encryption_data(_sym_cert(client).certificate)
    parts, info = encrypt_batch_parts(archive, enc.key, enc.iv)
    opened = client.sessions.open_batch_session(
        OpenBatchSessionRequest(form_code=FA3, batch_file=info, encryption=enc.encryption_info),
        access_token=access,
    )
    url = opened.part_upload_requests[0].url
    assert httpx.put(url.replace("sig=", "sig=0"), content=parts[0]).status_code == 403
    assert httpx.put(url, content=parts[0] + b"x").status_code == 400
    assert httpx.put(url, content=parts[0]).status_code == 201


def test_too_many_parts_is_21161(sandbox: LiveSandbox) -> None:
    client, access, _ = _login(sandbox, ["InvoiceWrite"])
    enc = build_encryption_data(_sym_cert(client).certificate)
    parts = [{"ordinalNumber": i, "fileSize": 16, "fileHash": "A" * 43 + "="} for i in range(1, 52)]
    r = httpx.post(
        f"{sandbox.url}/v2/sessions/batch",
        headers={"Authorization": f"Bearer {access}"},
        json={
            "formCode": FA3.to_dict(),
            "encryption": enc.encryption_info.to_dict(),
            "batchFile": {"fileSize": 100, "fileHash": "A" * 43 + "=", "fileParts": parts},
        },
    )
    assert r.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 21161


def test_export_delivers_encrypted_parts_with_invoices_and_metadata(sandbox: LiveSandbox) -> None:
    client, access, nip = _login(sandbox, ["InvoiceRead"])
    numbers = issue_invoices(sandbox.store, fresh_nip(), nip, 4, dt.datetime.now(dt.UTC))
    enc = build_encryption_data(_sym_cert(client).certificate)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    r = httpx.post(
        f"{sandbox.url}/v2/invoices/exports",
        headers={"Authorization": f"Bearer {access}"},
        json={
            "encryption": enc.encryption_info.to_dict(),
            "filters": {
                "subjectType": "Subject2",
                "dateRange": {"dateType": "PermanentStorage", "from": since},
            },
        },
    )
    assert r.status_code == 201
    status = wait_for(
        lambda: (
            (
                s := client.invoices.get_export_status(
                    r.json()["referenceNumber"], access_token=access
                )
            ).status.code
            == 200
            and s
        )
    )
    result = ExportWorkflow(
        client.invoices, PresignedHttp(), require_export_part_hash=True
    ).download_and_process_package(status.package, enc)
    assert sorted(m["ksefNumber"] for m in result.metadata_summaries) == sorted(numbers)
    assert sorted(result.invoice_xml_files) == sorted(f"{n}.xml" for n in numbers)


def test_rate_limits_switched_on_answer_429_with_retry_after(sandbox: LiveSandbox) -> None:
    _, access, _ = _login(sandbox, ["InvoiceWrite"])
    headers = {"Authorization": f"Bearer {access}"}
    limits = {
        g: {"perSecond": 100, "perMinute": 1000, "perHour": 1000}
        for g in (
            "onlineSession",
            "batchSession",
            "invoiceSend",
            "invoiceStatus",
            "sessionList",
            "sessionInvoiceList",
            "sessionMisc",
            "invoiceMetadata",
            "invoiceExport",
            "invoiceExportStatus",
            "invoiceDownload",
            "other",
        )
    }
    limits["sessionList"] = {"perSecond": 2, "perMinute": 2, "perHour": 1000}
    assert (
        httpx.post(
            f"{sandbox.url}/v2/testdata/rate-limits", headers=headers, json={"rateLimits": limits}
        ).status_code
        == 200
    )
    try:
        codes = [
            httpx.get(f"{sandbox.url}/v2/sessions?sessionType=Online", headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        blocked = httpx.get(f"{sandbox.url}/v2/sessions?sessionType=Online", headers=headers)
        assert int(blocked.headers["Retry-After"]) >= 1
        effective = httpx.get(f"{sandbox.url}/v2/rate-limits", headers=headers).json()
        assert effective["sessionList"]["perSecond"] == 2
    finally:
        httpx.delete(f"{sandbox.url}/v2/testdata/rate-limits", headers=headers)
    assert httpx.get(
        f"{sandbox.url}/v2/sessions?sessionType=Online", headers=headers
    ).status_code in (200, 429)


@pytest.fixture
def faults(sandbox: LiveSandbox) -> Any:
    original = sandbox.app.extensions["ksef_sandbox.faults"]
    yield sandbox.app.extensions
    sandbox.app.extensions["ksef_sandbox.faults"] = original


def test_injected_errors_and_dropped_responses(sandbox: LiveSandbox, faults: Any) -> None:
    faults["ksef_sandbox.faults"] = Faults(error_rate=1.0)
    assert httpx.post(f"{sandbox.url}/v2/auth/challenge").status_code == 503
    faults["ksef_sandbox.faults"] = Faults(drop_rate=1.0)
    dropped = httpx.post(f"{sandbox.url}/v2/auth/challenge")
    assert dropped.status_code == 504
    faults["ksef_sandbox.faults"] = Faults()
    # the dropped call did its work: the challenge exists, but the caller never saw it
    with sandbox.store.session() as s:
        assert s.query(Challenge).count() >= 1
    assert httpx.post(f"{sandbox.url}/v2/auth/challenge").status_code == 200
