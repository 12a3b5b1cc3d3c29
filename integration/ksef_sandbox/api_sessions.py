"""Online sessions, invoice statuses, UPOs; invoice retrieval (metadata query, download)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from integration.ksef_sandbox import crypto, upo
from integration.ksef_sandbox.common import (
    body,
    config,
    continuation_offset,
    iso,
    need,
    page_offset,
    page_size,
    status,
    store,
)
from integration.ksef_sandbox.errors import KsefError, validation
from integration.ksef_sandbox.processing import DESCRIPTIONS, Processor, finalize_if_done
from integration.ksef_sandbox.security import Caller, caller
from integration.ksef_sandbox.state import AuthOperation, Invoice, InvoiceSession, KeyPair

bp = Blueprint("sandbox_sessions", __name__)
WRITE = frozenset({"InvoiceWrite", "PefInvoiceWrite", "EnforcementOperations"})
READ_SESSIONS = frozenset(
    {"InvoiceWrite", "Introspection", "PefInvoiceWrite", "EnforcementOperations"}
)
INVOICE_READ = frozenset({"InvoiceRead"})
FORM_CODES = {("FA (3)", "1-0E", "FA")}
SESSION_TTL = dt.timedelta(hours=12)
MAX_INVOICES = 10_000
WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
SESSION_TEXT = {
    100: "Sesja interaktywna otwarta",
    170: "Sesja interaktywna zamknięta",
    200: "Sesja interaktywna przetworzona pomyślnie",
    415: "Błąd odszyfrowania dostarczonego klucza",
    440: "Sesja anulowana",
    445: "Błąd weryfikacji, brak poprawnych faktur",
}


def processor() -> Processor:
    value = current_app.extensions["ksef_sandbox.processor"]
    assert isinstance(value, Processor)
    return value


def _session(s: Session, who: Caller, reference: str) -> InvoiceSession:
    row = s.get(InvoiceSession, reference)
    if row is None or row.context_value != who.context_value:
        raise KsefError(
            21173,
            "Brak sesji o wskazanym numerze referencyjnym.",
            [f"Sesja o numerze referencyjnym {reference} nie została znaleziona."],
        )
    _expire(s, row)
    return row


def _expire(s: Session, row: InvoiceSession) -> None:
    now = store().now()
    if row.status_code == 100 and row.valid_until <= now:
        row.status_code, row.closed_at, row.updated_at = 170, now, now
        finalize_if_done(s, row, now)


def checked_form_code(data: dict[str, Any]) -> dict[str, str]:
    form = need(data, "formCode", dict)
    triple = (form.get("systemCode"), form.get("schemaVersion"), form.get("value"))
    if triple not in FORM_CODES:
        raise validation("Nieobsługiwany kod formularza.", " ".join(str(v) for v in triple))
    return {
        "systemCode": form["systemCode"],
        "schemaVersion": form["schemaVersion"],
        "value": form["value"],
    }


def unwrap_key(s: Session, enc: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    """The session's AES key and IV; (None, None) when they cannot be used (status 415)."""
    key_id = enc.get("publicKeyId")
    key = s.scalar(
        sa.select(KeyPair).where(
            KeyPair.usage == "SymmetricKeyEncryption",
            *([KeyPair.public_key_id == key_id] if key_id else []),
        )
    )
    if key is None:
        raise KsefError(21470, "Nieznany lub wycofany identyfikator klucza publicznego.")
    try:
        aes = crypto.rsa_oaep_decrypt(
            key.private_pem, crypto.unb64(need(enc, "encryptedSymmetricKey"))
        )
        iv = crypto.unb64(need(enc, "initializationVector"))
    except ValueError:
        return None, None
    if len(aes) != 32 or len(iv) != 16:
        return None, None
    return aes, iv


def new_session(
    s: Session,
    who: Caller,
    kind: str,
    form: dict[str, str],
    key: tuple[bytes | None, bytes | None],
    **extra: Any,
) -> InvoiceSession:
    """An online ("SO") or batch ("SB") session of the caller's context."""
    now = store().now()
    op = s.get(AuthOperation, who.reference_number)
    aes, iv = key
    row = InvoiceSession(
        reference_number=crypto.reference_number("SO" if kind == "Online" else "SB", now),
        session_type=kind,
        context_type=who.context_type,
        context_value=who.context_value,
        opener_type=who.identity.type if who.identity else None,
        opener_value=who.identity.value if who.identity else None,
        auth_reference=who.reference_number,
        auth_token_ref=who.ksef_token_ref,
        auth_document_hash=op.document_hash if op else None,
        form_code=form,
        aes_key=aes,
        iv=iv,
        status_code=100 if aes else 415,
        created_at=now,
        updated_at=now,
        valid_until=now + SESSION_TTL,
        **extra,
    )
    s.add(row)
    return row


@bp.post("/sessions/online")
def open_online() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(WRITE)
        form = checked_form_code(data)
        row = new_session(s, who, "Online", form, unwrap_key(s, need(data, "encryption", dict)))
        return {"referenceNumber": row.reference_number, "validUntil": iso(row.valid_until)}, 201


@bp.post("/sessions/online/<reference>/invoices")
def send_invoice(reference: str) -> Any:
    data = body()
    st = store()
    with st.session() as s:
        who = caller(s)
        who.require(WRITE)
        row = _session(s, who, reference)
        if row.status_code != 100:
            raise KsefError(
                21180,
                "Status sesji nie pozwala na wykonanie operacji.",
                [f"Sesja ma status {row.status_code}."],
            )
        if row.invoice_count >= MAX_INVOICES:
            raise KsefError(21155, "Przekroczono dozwoloną liczbę faktur w sesji.")
        content = (
            crypto.unb64(need(data, "encryptedInvoiceContent"))
            if isinstance(data.get("encryptedInvoiceContent"), str)
            else None
        )
        if content is None:
            raise validation("'encryptedInvoiceContent' is required.")
        size = need(data, "encryptedInvoiceSize", int)
        invoice_size = need(data, "invoiceSize", int)
        if invoice_size < 1 or invoice_size > 3_000_000:
            raise validation("invoiceSize must be between 1 and 3000000.")
        if size != len(content):
            raise KsefError(
                21402,
                "Nieprawidłowy rozmiar pliku.",
                ["encryptedInvoiceSize does not match the content length."],
            )
        if need(data, "encryptedInvoiceHash") != crypto.sha256_b64(content):
            raise KsefError(
                21403,
                "Nieprawidłowy skrót pliku.",
                ["encryptedInvoiceHash does not match the content."],
            )
        corrected = data.get("hashOfCorrectedInvoice")
        offline = bool(data.get("offlineMode", False))
        if corrected is not None:
            _check_correction(s, offline, corrected)
        now = st.now()
        row.invoice_count += 1
        row.updated_at = now
        inv = Invoice(
            reference_number=crypto.reference_number("EE", now),
            session_reference=row.reference_number,
            ordinal_number=row.invoice_count,
            invoice_hash=need(data, "invoiceHash"),
            invoice_size=invoice_size,
            encrypted=content,
            offline_mode=offline,
            hash_of_corrected=corrected,
            invoicing_date=now,
        )
        s.add(inv)
        ref = inv.reference_number
    processor().submit(ref)
    return {"referenceNumber": ref}, 202


def _check_correction(s: Session, offline: bool, corrected: str) -> None:
    if not offline:
        raise KsefError(
            21167,
            "Status faktury nie pozwala na korektę techniczną.",
            ["offlineMode must be true for a technical correction."],
        )
    original = s.scalar(
        sa.select(Invoice).where(Invoice.invoice_hash == corrected, Invoice.offline_mode.is_(True))
    )
    if original is None or original.status_code == 200:
        raise KsefError(21167, "Status faktury nie pozwala na korektę techniczną.")
    accepted = s.scalar(
        sa.select(Invoice.reference_number).where(
            Invoice.hash_of_corrected == corrected, Invoice.status_code == 200
        )
    )
    if accepted is not None:
        raise KsefError(
            21166,
            "Korekta techniczna niedostępna.",
            ["The invoice already has an accepted technical correction."],
        )


@bp.post("/sessions/online/<reference>/close")
def close_online(reference: str) -> Response:
    st = store()
    with st.session() as s:
        who = caller(s)
        who.require(WRITE)
        row = _session(s, who, reference)
        if row.status_code != 100:
            raise KsefError(21180, "Status sesji nie pozwala na wykonanie operacji.")
        now = st.now()
        row.status_code, row.closed_at, row.updated_at = 170, now, now
        finalize_if_done(s, row, now)
    return Response(status=204)


def _upo_url(session_ref: str, kind: str, ref: str) -> str:
    base = f"{request.host_url.rstrip('/')}{request.script_root}"
    return f"{base}/v2/sessions/{session_ref}/{kind}/{ref}"


def _session_status(s: Session, row: InvoiceSession) -> dict[str, Any]:
    ok = (
        s.scalar(
            sa.select(sa.func.count())
            .select_from(Invoice)
            .where(Invoice.session_reference == row.reference_number, Invoice.status_code == 200)
        )
        or 0
    )
    failed = (
        s.scalar(
            sa.select(sa.func.count())
            .select_from(Invoice)
            .where(
                Invoice.session_reference == row.reference_number,
                Invoice.status_code.not_in((100, 150, 200)),
            )
        )
        or 0
    )
    out: dict[str, Any] = {
        "status": status(row.status_code, SESSION_TEXT.get(row.status_code, "Status sesji")),
        "dateCreated": iso(row.created_at),
        "dateUpdated": iso(row.updated_at),
        "validUntil": iso(row.valid_until),
        "invoiceCount": row.invoice_count,
        "successfulInvoiceCount": ok,
        "failedInvoiceCount": failed,
    }
    if row.upo_reference:
        out["upo"] = {
            "pages": [
                {
                    "referenceNumber": row.upo_reference,
                    "downloadUrl": _upo_url(row.reference_number, "upo", row.upo_reference),
                    "downloadUrlExpirationDate": iso(store().now() + dt.timedelta(hours=1)),
                }
            ]
        }
    return out


@bp.get("/sessions/<reference>")
def session_status(reference: str) -> Any:
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        return _session_status(s, _session(s, who, reference))


def _invoice_status(inv: Invoice) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ordinalNumber": inv.ordinal_number,
        "referenceNumber": inv.reference_number,
        "invoiceHash": inv.invoice_hash,
        "invoicingDate": iso(inv.invoicing_date),
        "status": status(
            inv.status_code,
            DESCRIPTIONS.get(inv.status_code, "Status faktury"),
            inv.status_details,
            inv.status_extensions,
        ),
    }
    if inv.invoice_number:
        out["invoiceNumber"] = inv.invoice_number
    if inv.file_name:
        out["invoiceFileName"] = inv.file_name
    if inv.status_code == 200:
        out |= {
            "ksefNumber": inv.ksef_number,
            "acquisitionDate": iso(inv.acquisition_date),
            "invoicingMode": inv.invoicing_mode,
            "upoDownloadUrl": _upo_url(
                inv.session_reference, "invoices", f"{inv.reference_number}/upo"
            ),
            "upoDownloadUrlExpirationDate": iso(store().now() + dt.timedelta(hours=1)),
        }
        if inv.permanent_storage_date and inv.permanent_storage_date <= store().now():
            out["permanentStorageDate"] = iso(inv.permanent_storage_date)
    return out


@bp.get("/sessions/<reference>/invoices/<invoice_ref>")
def invoice_status(reference: str, invoice_ref: str) -> Any:
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        _session(s, who, reference)
        inv = s.get(Invoice, invoice_ref)
        if inv is None or inv.session_reference != reference:
            raise KsefError(
                21405,
                "Błąd walidacji danych wejściowych.",
                [f"Faktura {invoice_ref} nie istnieje w sesji."],
            )
        return _invoice_status(inv)


def _invoice_list(reference: str, *, failed: bool) -> Any:
    size, offset = page_size(10, 10, 1000), continuation_offset()
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        _session(s, who, reference)
        stmt = sa.select(Invoice).where(Invoice.session_reference == reference)
        if failed:
            stmt = stmt.where(Invoice.status_code.not_in((100, 150, 200)))
        rows = s.scalars(stmt.order_by(Invoice.ordinal_number).offset(offset).limit(size + 1)).all()
        out: dict[str, Any] = {"invoices": [_invoice_status(i) for i in rows[:size]]}
        if len(rows) > size:
            out["continuationToken"] = str(offset + size)
        return out


@bp.get("/sessions/<reference>/invoices")
def invoice_list(reference: str) -> Any:
    return _invoice_list(reference, failed=False)


@bp.get("/sessions/<reference>/invoices/failed")
def failed_invoice_list(reference: str) -> Any:
    return _invoice_list(reference, failed=True)


def _xml(data: bytes) -> Response:
    response = Response(data, mimetype="application/xml")
    response.headers["x-ms-meta-hash"] = crypto.sha256_b64(data)
    return response


def _no_upo() -> KsefError:
    return KsefError(21178, "Nie znaleziono UPO dla podanych kryteriów.")


@bp.get("/sessions/<reference>/invoices/<invoice_ref>/upo")
def invoice_upo(reference: str, invoice_ref: str) -> Response:
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        row = _session(s, who, reference)
        inv = s.get(Invoice, invoice_ref)
        if inv is None or inv.session_reference != reference or inv.status_code != 200:
            raise _no_upo()
        return _xml(upo.build(row, [inv]))


@bp.get("/sessions/<reference>/invoices/ksef/<ksef_number>/upo")
def invoice_upo_by_number(reference: str, ksef_number: str) -> Response:
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        row = _session(s, who, reference)
        inv = s.scalar(
            sa.select(Invoice).where(
                Invoice.ksef_number == ksef_number, Invoice.session_reference == reference
            )
        )
        if inv is None:
            raise _no_upo()
        return _xml(upo.build(row, [inv]))


@bp.get("/sessions/<reference>/upo/<upo_ref>")
def session_upo(reference: str, upo_ref: str) -> Response:
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        row = _session(s, who, reference)
        if row.upo_reference != upo_ref:
            raise _no_upo()
        accepted = s.scalars(
            sa.select(Invoice)
            .where(Invoice.session_reference == reference, Invoice.status_code == 200)
            .order_by(Invoice.ordinal_number)
        ).all()
        return _xml(upo.build(row, accepted, page=1, pages=1, first=1, total=len(accepted)))


@bp.get("/sessions")
def list_sessions() -> Any:
    session_type = request.args.get("sessionType")
    if session_type not in ("Online", "Batch"):
        raise validation("sessionType is required: Online or Batch.")
    size, offset = page_size(10, 10, 1000), continuation_offset()
    with store().session() as s:
        who = caller(s)
        who.require(READ_SESSIONS)
        stmt = sa.select(InvoiceSession).where(
            InvoiceSession.context_value == who.context_value,
            InvoiceSession.session_type == session_type,
        )
        if (
            not ({"Introspection", "EnforcementOperations", "Owner"} & who.permissions)
            and who.identity is not None
        ):
            stmt = stmt.where(InvoiceSession.opener_value == who.identity.value)
        if request.args.get("referenceNumber"):
            stmt = stmt.where(InvoiceSession.reference_number == request.args["referenceNumber"])
        groups = {"InProgress": (100, 150, 170), "Succeeded": (200,), "Cancelled": (440,)}
        wanted = request.args.getlist("statuses")
        if wanted:
            codes: list[int] = []
            for name in wanted:
                codes += list(groups.get(name, ()))
            if "Failed" in wanted:
                stmt = stmt.where(
                    sa.or_(
                        InvoiceSession.status_code.in_(codes),
                        InvoiceSession.status_code.not_in((100, 150, 170, 200, 440)),
                    )
                )
            else:
                stmt = stmt.where(InvoiceSession.status_code.in_(codes))
        rows = s.scalars(
            stmt.order_by(InvoiceSession.created_at.desc()).offset(offset).limit(size + 1)
        ).all()
        items = []
        for row in rows[:size]:
            st = _session_status(s, row)
            items.append(
                {
                    "referenceNumber": row.reference_number,
                    "status": st["status"],
                    "dateCreated": st["dateCreated"],
                    "dateUpdated": st["dateUpdated"],
                    "validUntil": st["validUntil"],
                    "totalInvoiceCount": row.invoice_count,
                    "successfulInvoiceCount": st["successfulInvoiceCount"],
                    "failedInvoiceCount": st["failedInvoiceCount"],
                }
            )
        out: dict[str, Any] = {"sessions": items}
        if len(rows) > size:
            out["continuationToken"] = str(offset + size)
        return out


# ---------------------------------------------------------------------------- retrieval
def _visible(inv: Invoice, context_nip: str) -> bool:
    meta = inv.meta or {}
    thirds = {t.get("identifier", {}).get("value") for t in meta.get("thirdSubjects", [])}
    return context_nip in {inv.seller_nip, inv.buyer_nip} or context_nip in thirds


@bp.get("/invoices/ksef/<ksef_number>")
def download(ksef_number: str) -> Response:
    with store().session() as s:
        who = caller(s)
        who.require(INVOICE_READ)
        inv = s.scalar(sa.select(Invoice).where(Invoice.ksef_number == ksef_number))
        if inv is None or not _visible(inv, who.context_value) or inv.xml is None:
            raise KsefError(
                21164,
                "Faktura o podanym identyfikatorze nie istnieje.",
                [f"Faktura o numerze KSeF {ksef_number} nie została znaleziona."],
            )
        if inv.permanent_storage_date is None or inv.permanent_storage_date > store().now():
            raise KsefError(21165, "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.")
        return _xml(inv.xml)


def _parse_date(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise validation(f"{field} must be a date-time string.")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise validation(f"{field} is not a valid date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=WARSAW)
    return parsed.astimezone(dt.UTC)


def hwm(now: dt.datetime) -> dt.datetime:
    """High-water mark: nothing stored at or before it can appear later."""
    lag: dt.timedelta = config().hwm_lag
    return now - lag


def metadata(inv: Invoice) -> dict[str, Any]:
    meta = inv.meta or {}
    out: dict[str, Any] = {
        "ksefNumber": inv.ksef_number,
        "invoiceNumber": inv.invoice_number,
        "issueDate": meta.get("issueDate"),
        "invoicingDate": iso(inv.invoicing_date),
        "acquisitionDate": iso(inv.acquisition_date),
        "permanentStorageDate": iso(inv.permanent_storage_date),
        "seller": {
            "nip": inv.seller_nip,
            **({"name": meta["sellerName"]} if meta.get("sellerName") else {}),
        },
        "buyer": {
            "identifier": meta.get("buyerIdentifier", {"type": "None"}),
            **({"name": meta["buyerName"]} if meta.get("buyerName") else {}),
        },
        "netAmount": meta.get("netAmount", 0.0),
        "grossAmount": meta.get("grossAmount", 0.0),
        "vatAmount": meta.get("vatAmount", 0.0),
        "currency": meta.get("currency", "PLN"),
        "invoicingMode": inv.invoicing_mode or "Online",
        "invoiceType": _invoice_type(inv),
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "isSelfInvoicing": False,
        "hasAttachment": bool(meta.get("hasAttachment")),
        "invoiceHash": inv.invoice_hash,
    }
    if meta.get("thirdSubjects"):
        out["thirdSubjects"] = meta["thirdSubjects"]
    return out


def _invoice_type(inv: Invoice) -> str:
    mapping = {
        "VAT": "Vat",
        "ZAL": "Zal",
        "KOR": "Kor",
        "ROZ": "Roz",
        "UPR": "Upr",
        "KOR_ZAL": "KorZal",
        "KOR_ROZ": "KorRoz",
    }
    return mapping.get(inv.invoice_type or "VAT", "Vat")


ROW_CAP = 10_000
_HWM_CACHE: dict[str, tuple[dt.datetime, dt.datetime]] = {}


def _query_hwm(filters: dict[str, Any], now: dt.datetime, offset: int) -> dt.datetime:
    """The HWM of a filter set, fixed at its first page so that later pages agree."""
    auth = request.headers.get("Authorization", "")
    key = crypto.secret_hash(auth + json.dumps(filters, sort_keys=True))
    cached = _HWM_CACHE.get(key)
    if offset > 0 and cached is not None and cached[1] > now:
        return cached[0]
    mark = hwm(now)
    _HWM_CACHE[key] = (mark, now + dt.timedelta(minutes=10))
    return mark


@dataclass(frozen=True)
class Selection:
    rows: list[Invoice]
    truncated: bool
    mark: dt.datetime | None
    date_type: str


DATE_COLUMNS = {
    "Issue": Invoice.invoicing_date,
    "Invoicing": Invoice.invoicing_date,
    "PermanentStorage": Invoice.permanent_storage_date,
}


def select_invoices(
    s: Session,
    context: str,
    filters: dict[str, Any],
    *,
    order: str = "Asc",
    page_offset_hint: int = 0,
) -> Selection:
    """Invoices of the context matching InvoiceQueryFilters (shared by query and export)."""
    subject_type = need(filters, "subjectType")
    if subject_type not in ("Subject1", "Subject2", "Subject3", "SubjectAuthorized"):
        raise validation("subjectType is not valid.")
    date_range = need(filters, "dateRange", dict)
    date_type = need(date_range, "dateType")
    if date_type not in DATE_COLUMNS:
        raise validation("dateRange.dateType must be Issue, Invoicing or PermanentStorage.")
    now = store().now()
    start = _parse_date(date_range.get("from"), "dateRange.from")
    end = _parse_date(date_range["to"], "dateRange.to") if date_range.get("to") else now
    mark = _query_hwm(filters, now, page_offset_hint) if date_type == "PermanentStorage" else None
    restrict = mark is not None and bool(date_range.get("restrictToPermanentStorageHwmDate"))
    if restrict and mark is not None and start > mark:
        raise KsefError(
            21183,
            "Zakres dat rozpoczyna się po dacie HWM.",
            [f"dateRange.from is later than {iso(mark)}."],
        )
    if end < start:
        raise validation("dateRange.to is earlier than dateRange.from.")
    if end - start > dt.timedelta(days=92):
        raise validation("dateRange may span at most 3 months.")
    if restrict and mark is not None:
        end = min(end, mark)
    stmt = sa.select(Invoice).where(
        Invoice.status_code == 200, Invoice.permanent_storage_date <= now
    )
    if subject_type == "Subject1":
        stmt = stmt.where(Invoice.seller_nip == context)
    elif subject_type == "Subject2":
        stmt = stmt.where(Invoice.buyer_nip == context)
    column = DATE_COLUMNS[date_type]
    stmt = stmt.where(column >= start, column <= end)
    for key, col in (
        ("ksefNumber", Invoice.ksef_number),
        ("invoiceNumber", Invoice.invoice_number),
        ("sellerNip", Invoice.seller_nip),
    ):
        if filters.get(key):
            stmt = stmt.where(col == filters[key])
    rows = list(
        s.scalars(
            stmt.order_by(column.asc() if order == "Asc" else column.desc(), Invoice.ksef_number)
        ).all()
    )
    if subject_type in ("Subject3", "SubjectAuthorized"):
        rows = [
            r for r in rows if _visible(r, context) and context not in (r.seller_nip, r.buyer_nip)
        ]
    return Selection(rows[:ROW_CAP], len(rows) > ROW_CAP, mark, date_type)


@bp.post("/invoices/query/metadata")
def query_metadata() -> Any:
    data = body()
    size, offset = page_size(10, 10, 250), page_offset()
    order = request.args.get("sortOrder", "Asc")
    if order not in ("Asc", "Desc"):
        raise validation("sortOrder must be Asc or Desc.")
    with store().session() as s:
        who = caller(s)
        who.require(INVOICE_READ)
        found = select_invoices(s, who.context_value, data, order=order, page_offset_hint=offset)
        page = found.rows[offset * size : (offset + 1) * size]
        out: dict[str, Any] = {
            "hasMore": (offset + 1) * size < len(found.rows),
            "isTruncated": found.truncated,
            "invoices": [metadata(r) for r in page],
        }
        if found.mark is not None:
            out["permanentStorageHwmDate"] = iso(found.mark)
        return out
