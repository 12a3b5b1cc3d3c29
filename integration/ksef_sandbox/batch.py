"""Batch sessions (ZIP split into encrypted parts, pre-signed uploads) and invoice exports."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import zipfile
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from integration.ksef_sandbox import crypto
from integration.ksef_sandbox.api_sessions import (
    INVOICE_READ,
    MAX_INVOICES,
    WRITE,
    checked_form_code,
    metadata,
    new_session,
    processor,
    select_invoices,
    unwrap_key,
)
from integration.ksef_sandbox.common import body, config, iso, need, status, store
from integration.ksef_sandbox.errors import KsefError, ProblemError, validation
from integration.ksef_sandbox.processing import finalize_if_done
from integration.ksef_sandbox.security import caller, jwt_secret
from integration.ksef_sandbox.state import (
    Export,
    Invoice,
    InvoiceSession,
    StoredPart,
)

batch_bp = Blueprint("sandbox_batch", __name__)
storage_bp = Blueprint("sandbox_storage", __name__)
MAX_PARTS = 50
MAX_PART_BYTES = 100_000_000
MAX_ARCHIVE_BYTES = 5_000_000_000
UPLOAD_WINDOW_PER_PART = dt.timedelta(minutes=20)
MAX_RUNNING_EXPORTS = 10
EXPORT_STATUS = {
    100: "Eksport w toku",
    200: "Eksport zakończony sukcesem",
    210: "Paczka faktur wygasła",
    415: "Błąd odszyfrowania klucza",
}


# ---------------------------------------------------------------------------- signing
def _signature(*parts: str) -> str:
    key = jwt_secret(store()).encode()
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()


def _signed_url(kind: str, reference: str, ordinal: int, expires: dt.datetime) -> str:
    exp = str(int(expires.timestamp()))
    sig = _signature(kind, reference, str(ordinal), exp)
    base = f"{request.host_url.rstrip('/')}{request.script_root}"
    return f"{base}/storage/{kind}/{reference}/{ordinal}?exp={exp}&sig={sig}"


def _check_signature(kind: str, reference: str, ordinal: int) -> None:
    exp, sig = request.args.get("exp", ""), request.args.get("sig", "")
    expected = _signature(kind, reference, str(ordinal), exp)
    if not exp.isdigit() or not hmac.compare_digest(sig, expected):
        raise ProblemError(403, "Nieprawidłowy podpis adresu.")
    if int(exp) < store().now().timestamp():
        raise ProblemError(403, "Adres wygasł.")


# ---------------------------------------------------------------------------- batch
@batch_bp.post("/sessions/batch")
def open_batch() -> Any:
    data = body()
    st = store()
    with st.session() as s:
        who = caller(s)
        who.require(WRITE - {"PefInvoiceWrite"})
        form = checked_form_code(data)
        batch = need(data, "batchFile", dict)
        parts = need(batch, "fileParts", list)
        size = need(batch, "fileSize", int)
        need(batch, "fileHash")
        if not parts:
            raise validation("fileParts must not be empty.")
        if len(parts) > MAX_PARTS:
            raise KsefError(21161, "Przekroczona dozwolona liczba części pliku.")
        if size > MAX_ARCHIVE_BYTES:
            raise KsefError(21157, "Nieprawidłowy rozmiar części pliku.", ["archive over 5 GB"])
        ordinals = sorted(int(p.get("ordinalNumber", 0)) for p in parts if isinstance(p, dict))
        if ordinals != list(range(1, len(parts) + 1)):
            raise validation("fileParts[].ordinalNumber must be 1..n.")
        for part in parts:
            if not isinstance(part.get("fileSize"), int) or part["fileSize"] > MAX_PART_BYTES + 16:
                raise KsefError(
                    21157,
                    "Nieprawidłowy rozmiar części pliku.",
                    [f"part {part.get('ordinalNumber')} exceeds 100 MB"],
                )
        row = new_session(
            s,
            who,
            "Batch",
            form,
            unwrap_key(s, need(data, "encryption", dict)),
            offline_mode=bool(data.get("offlineMode", False)),
            batch={
                "fileSize": size,
                "fileHash": batch["fileHash"],
                "compressionType": batch.get("compressionType", "Zip"),
                "parts": {
                    str(p["ordinalNumber"]): {"fileSize": p["fileSize"], "fileHash": p["fileHash"]}
                    for p in parts
                },
            },
        )
        now = row.created_at
        window = now + UPLOAD_WINDOW_PER_PART * len(parts)
        return {
            "referenceNumber": row.reference_number,
            "partUploadRequests": [
                {
                    "ordinalNumber": n,
                    "method": "PUT",
                    "url": _signed_url("batch", row.reference_number, n, window),
                    "headers": {"x-ms-blob-type": "BlockBlob"},
                }
                for n in ordinals
            ],
        }, 201


@storage_bp.put("/batch/<reference>/<int:ordinal>")
def upload_part(reference: str, ordinal: int) -> Response:
    _check_signature("batch", reference, ordinal)
    data = request.get_data(cache=False)
    with store().session() as s:
        row = s.get(InvoiceSession, reference)
        declared = (row.batch or {}).get("parts", {}).get(str(ordinal)) if row else None
        if row is None or declared is None or row.status_code != 100:
            return Response("unknown part", status=400)
        if len(data) != declared["fileSize"] or crypto.sha256_b64(data) != declared["fileHash"]:
            return Response("part does not match its declared size and hash", status=400)
        s.execute(
            sa.delete(StoredPart).where(
                StoredPart.owner_reference == reference,
                StoredPart.kind == "batch",
                StoredPart.ordinal_number == ordinal,
            )
        )
        s.add(
            StoredPart(
                owner_reference=reference,
                kind="batch",
                ordinal_number=ordinal,
                data=data,
                uploaded_at=store().now(),
            )
        )
    return Response(status=201)


@batch_bp.post("/sessions/batch/<reference>/close")
def close_batch(reference: str) -> Response:
    st = store()
    with st.session() as s:
        who = caller(s)
        who.require(WRITE - {"PefInvoiceWrite"})
        row = s.get(InvoiceSession, reference)
        if row is None or row.context_value != who.context_value or row.session_type != "Batch":
            raise KsefError(21173, "Brak sesji o wskazanym numerze referencyjnym.")
        if row.status_code != 100:
            raise KsefError(21180, "Status sesji nie pozwala na wykonanie operacji.")
        declared = (row.batch or {}).get("parts", {})
        stored = {
            p.ordinal_number: p
            for p in s.scalars(
                sa.select(StoredPart).where(
                    StoredPart.owner_reference == reference, StoredPart.kind == "batch"
                )
            )
        }
        missing = sorted(int(n) for n in declared if int(n) not in stored)
        if missing:
            raise KsefError(
                21205, "Nie przesłano zadeklarowanej części pliku.", [f"missing parts: {missing}"]
            )
        window = row.created_at + UPLOAD_WINDOW_PER_PART * len(declared)
        if any(p.uploaded_at > window for p in stored.values()):
            raise KsefError(21208, "Przekroczono czas na przesłanie części pliku.")
        now = st.now()
        row.status_code, row.closed_at, row.updated_at = 150, now, now
        refs = _unpack(s, row, [stored[n] for n in sorted(stored)])
        finalize_if_done(s, row, now)
    for ref in refs:
        processor().submit(ref)
    return Response(status=204)


def _unpack(s: Session, row: InvoiceSession, parts: list[StoredPart]) -> list[str]:
    if row.aes_key is None or row.iv is None:
        return []
    try:
        archive = b"".join(crypto.aes_cbc_decrypt(row.aes_key, row.iv, p.data) for p in parts)
    except ValueError:
        row.status_code = 435
        return []
    batch = row.batch or {}
    if len(archive) != batch.get("fileSize") or crypto.sha256_b64(archive) != batch.get("fileHash"):
        row.status_code = 405
        row.status_details = ["archive size or hash differs from the declaration"]
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            files = [
                (info.filename, zf.read(info))
                for info in zf.infolist()
                if not info.is_dir() and info.file_size <= 3_000_000
            ]
    except (zipfile.BadZipFile, ValueError):
        row.status_code = 430
        return []
    if len(files) > MAX_INVOICES:
        row.status_code = 420
        return []
    refs = []
    for ordinal, (name, xml) in enumerate(files, start=1):
        inv = Invoice(
            reference_number=crypto.reference_number("EE", row.created_at),
            session_reference=row.reference_number,
            ordinal_number=ordinal,
            invoice_hash=crypto.sha256_b64(xml),
            invoice_size=len(xml),
            file_name=name,
            xml=xml,
            offline_mode=row.offline_mode,
            invoicing_date=row.created_at,
        )
        s.add(inv)
        refs.append(inv.reference_number)
    row.invoice_count = len(files)
    return refs


# ---------------------------------------------------------------------------- export
@batch_bp.post("/invoices/exports")
def create_export() -> Any:
    data = body()
    st = store()
    with st.session() as s:
        who = caller(s)
        who.require(INVOICE_READ)
        filters = need(data, "filters", dict)
        running = (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(Export)
                .where(Export.context_value == who.context_value, Export.status_code == 100)
            )
            or 0
        )
        if running >= MAX_RUNNING_EXPORTS:
            raise KsefError(21182, "Przekroczono limit równoczesnych eksportów.")
        aes, iv = unwrap_key(s, need(data, "encryption", dict))
        found = select_invoices(s, who.context_value, filters)
        now = st.now()
        export = Export(
            reference_number=crypto.reference_number("EH", now),
            context_value=who.context_value,
            status_code=100,
            created_at=now,
        )
        s.add(export)
        if aes is None or iv is None:
            export.status_code = 415
        else:
            _build_package(s, export, found, aes, iv, only_metadata=bool(data.get("onlyMetadata")))
        return {"referenceNumber": export.reference_number}, 201


def _build_package(
    s: Session, export: Export, found: Any, aes: bytes, iv: bytes, *, only_metadata: bool
) -> None:
    rows: list[Invoice] = list(found.rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if not only_metadata:
            for inv in rows:
                zf.writestr(f"{inv.ksef_number}.xml", inv.xml or b"")
        zf.writestr(
            "_metadata.json",
            json.dumps({"invoices": [metadata(r) for r in rows]}, ensure_ascii=False),
        )
    archive = buffer.getvalue()
    part_size = config().export_part_bytes
    now = store().now()
    parts = []
    for ordinal, offset in enumerate(range(0, len(archive), part_size), start=1):
        plain = archive[offset : offset + part_size]
        encrypted = crypto.aes_cbc_encrypt(aes, iv, plain)
        s.add(
            StoredPart(
                owner_reference=export.reference_number,
                kind="export",
                ordinal_number=ordinal,
                data=encrypted,
                uploaded_at=now,
            )
        )
        parts.append(
            {
                "ordinalNumber": ordinal,
                "partName": f"{export.reference_number}-{ordinal:03d}.zip.aes",
                "partSize": len(plain),
                "partHash": crypto.sha256_b64(plain),
                "encryptedPartSize": len(encrypted),
                "encryptedPartHash": crypto.sha256_b64(encrypted),
            }
        )
    last = rows[-1] if rows else None
    package: dict[str, Any] = {
        "invoiceCount": len(rows),
        "size": len(archive),
        "parts": parts,
        "isTruncated": bool(found.truncated),
        # not in the 2.6 contract; 2.7 adds it and clients built on 2.7 require it
        # (a 2.6 client must ignore unknown properties)
        "compressionType": "Zip",
    }
    if last is not None and found.truncated:
        package["lastIssueDate"] = (last.meta or {}).get("issueDate")
        package["lastInvoicingDate"] = iso(last.invoicing_date)
        package["lastPermanentStorageDate"] = iso(last.permanent_storage_date)
    if found.mark is not None:
        package["permanentStorageHwmDate"] = iso(found.mark)
    export.package = package
    export.status_code, export.completed_at = 200, now
    export.expires_at = now + dt.timedelta(days=1)


@batch_bp.get("/invoices/exports/<reference>")
def export_status(reference: str) -> Any:
    with store().session() as s:
        who = caller(s)
        who.require(INVOICE_READ)
        export = s.get(Export, reference)
        if export is None or export.context_value != who.context_value:
            raise KsefError(21175, "Nie znaleziono eksportu.")
        now = store().now()
        if export.created_at + dt.timedelta(days=7) < now:
            raise ProblemError(410, "Status eksportu nie jest już dostępny.")
        if export.status_code == 200 and export.expires_at and export.expires_at < now:
            export.status_code = 210
        out: dict[str, Any] = {
            "status": status(export.status_code, EXPORT_STATUS.get(export.status_code, "Status"))
        }
        if export.status_code == 200 and export.package is not None:
            until = min(export.expires_at or now, now + dt.timedelta(hours=1))
            out["completedDate"] = iso(export.completed_at)
            out["packageExpirationDate"] = iso(export.expires_at)
            package = dict(export.package)
            package["parts"] = [
                {
                    **p,
                    "method": "GET",
                    "url": _signed_url("export", reference, p["ordinalNumber"], until),
                    "expirationDate": iso(until),
                }
                for p in package["parts"]
            ]
            out["package"] = package
        return out


@storage_bp.get("/export/<reference>/<int:ordinal>")
def download_export_part(reference: str, ordinal: int) -> Response:
    _check_signature("export", reference, ordinal)
    with store().session() as s:
        part = s.scalar(
            sa.select(StoredPart).where(
                StoredPart.owner_reference == reference,
                StoredPart.kind == "export",
                StoredPart.ordinal_number == ordinal,
            )
        )
        if part is None:
            return Response("no such part", status=404)
        response = Response(part.data, mimetype="application/octet-stream")
        response.headers["x-ms-meta-hash"] = crypto.sha256_b64(part.data)
        return response
