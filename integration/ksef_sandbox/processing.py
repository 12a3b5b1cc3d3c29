"""Asynchronous verification of sent invoices, as KSeF does it after the 202."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from lxml import etree
from sqlalchemy.orm import Session

from integration.ksef_sandbox import crypto, schemas
from integration.ksef_sandbox.state import Grant, Invoice, InvoiceSession, Store, Subject

log = logging.getLogger(__name__)
FA = f"{{{schemas.FA3_NAMESPACE}}}"
MAX_INVOICE_BYTES = 1_000_000
MAX_WITH_ATTACHMENT = 3_000_000
DESCRIPTIONS = {
    100: "Faktura przyjęta do dalszego przetwarzania",
    150: "Trwa przetwarzanie",
    200: "Sukces",
    405: "Przetwarzanie anulowane z powodu błędu sesji",
    410: "Nieprawidłowy zakres uprawnień",
    415: "Brak możliwości wysyłania faktury z załącznikiem",
    430: "Błąd weryfikacji pliku faktury",
    435: "Błąd odszyfrowania pliku",
    440: "Duplikat faktury",
    450: "Błąd weryfikacji semantyki dokumentu faktury",
}


class Rejected(Exception):
    def __init__(self, code: int, *details: str, extensions: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code, self.details, self.extensions = code, list(details), extensions


def _decimal_sum(root: etree._Element, names: list[str]) -> float:
    total = Decimal(0)
    for name in names:
        value = root.findtext(f"{FA}Fa/{FA}{name}")
        if value:
            try:
                total += Decimal(value)
            except InvalidOperation:
                continue
    return float(total)


def _check_document(s: Session, xml: bytes, session: InvoiceSession) -> etree._Element:
    if xml.startswith(b"\xef\xbb\xbf"):
        raise Rejected(430, "Plik zawiera znacznik BOM.")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
    )
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise Rejected(430, f"Dokument nie jest poprawnym XML: {exc}") from None
    head = xml[:100].lower()
    if head.startswith(b"<?xml") and b"encoding" in head and b"utf-8" not in head:
        raise Rejected(430, "Dozwolone jest wyłącznie kodowanie UTF-8.")
    if root.xpath("//processing-instruction()") or (root.getprevious() is not None):
        raise Rejected(430, "Instrukcje przetwarzania są niedozwolone.")
    schema = schemas.fa3()
    if not schema.validate(root):
        raise Rejected(
            430,
            *[f"{e.line}: {e.message}" for e in schema.error_log.filter_from_errors()[:5]],  # type: ignore[attr-defined]
        )
    code = root.find(f"{FA}Naglowek/{FA}KodFormularza")
    form = session.form_code
    if (
        code is None
        or code.get("kodSystemowy") != form.get("systemCode")
        or code.get("wersjaSchemy") != form.get("schemaVersion")
        or (code.text or "").strip() != form.get("value")
    ):
        raise Rejected(430, "KodFormularza nie odpowiada kodowi formularza sesji.")
    has_attachment = root.find(f"{FA}Zalacznik") is not None
    if len(xml) > (MAX_WITH_ATTACHMENT if has_attachment else MAX_INVOICE_BYTES):
        raise Rejected(430, "Przekroczony dopuszczalny rozmiar faktury.")
    if has_attachment and session.session_type == "Online":
        raise Rejected(415, "Faktura z załącznikiem może być wysłana wyłącznie w sesji wsadowej.")
    consent = s.scalar(
        sa.select(Subject.id).where(
            Subject.nip == session.context_value, Subject.attachments_allowed.is_(True)
        )
    )
    if has_attachment and consent is None:
        raise Rejected(415, "Brak zgody na wysyłanie faktur z załącznikami.")
    return root


def _may_issue(s: Session, session: InvoiceSession, seller_nip: str) -> bool:
    if session.context_type == "Nip" and session.context_value == seller_nip:
        return True
    if session.context_type == "InternalId" and session.context_value.startswith(seller_nip):
        return True
    granted = s.scalar(
        sa.select(Grant.id).where(
            Grant.kind == "authorization",
            Grant.context_value == seller_nip,
            Grant.grantee_value == session.context_value,
            Grant.revoked_at.is_(None),
        )
    )
    return granted is not None


def process(store: Store, invoice_ref: str, permanent_storage_delay: dt.timedelta) -> None:
    with store.session() as s:
        inv = s.get(Invoice, invoice_ref)
        if inv is None or inv.status_code not in (100, 150):
            return
        session = s.get(InvoiceSession, inv.session_reference)
        assert session is not None
        try:
            _verify(s, store, session, inv, permanent_storage_delay)
        except Rejected as rejected:
            inv.status_code = rejected.code
            inv.status_details = rejected.details or None
            inv.status_extensions = rejected.extensions
        inv.encrypted = None
        finalize_if_done(s, session, store.now())


def _verify(
    s: Session,
    store: Store,
    session: InvoiceSession,
    inv: Invoice,
    permanent_storage_delay: dt.timedelta,
) -> None:
    if session.aes_key is None or session.iv is None:
        raise Rejected(405, "Sesja zakończona błędem klucza szyfrującego.")
    if inv.xml is None:
        try:
            inv.xml = crypto.aes_cbc_decrypt(session.aes_key, session.iv, inv.encrypted or b"")
        except ValueError as exc:
            raise Rejected(435, str(exc)) from None
    xml = inv.xml
    if len(xml) != inv.invoice_size or crypto.sha256_b64(xml) != inv.invoice_hash:
        raise Rejected(430, "Rozmiar lub skrót pliku nie odpowiada zadeklarowanym wartościom.")
    root = _check_document(s, xml, session)
    seller = root.findtext(f"{FA}Podmiot1/{FA}DaneIdentyfikacyjne/{FA}NIP") or ""
    number = root.findtext(f"{FA}Fa/{FA}P_2") or ""
    kind = root.findtext(f"{FA}Fa/{FA}RodzajFaktury") or ""
    issue_date = root.findtext(f"{FA}Fa/{FA}P_1") or ""
    inv.seller_nip, inv.invoice_number, inv.invoice_type = seller, number, kind
    now = store.now()
    if issue_date > now.date().isoformat():
        raise Rejected(450, "Data wystawienia faktury (P_1) jest późniejsza niż data przyjęcia.")
    if not _may_issue(s, session, seller):
        raise Rejected(
            410, f"Kontekst {session.context_value} nie może wystawiać faktur sprzedawcy {seller}."
        )
    duplicate = s.scalar(
        sa.select(Invoice).where(
            Invoice.status_code == 200,
            Invoice.seller_nip == seller,
            Invoice.invoice_type == kind,
            Invoice.invoice_number == number,
        )
    )
    if duplicate is not None:
        raise Rejected(
            440,
            "Duplikat faktury.",
            extensions={
                "originalSessionReferenceNumber": duplicate.session_reference,
                "originalKsefNumber": duplicate.ksef_number or "",
            },
        )
    buyer = root.find(f"{FA}Podmiot2/{FA}DaneIdentyfikacyjne")
    buyer_nip = buyer.findtext(f"{FA}NIP") if buyer is not None else None
    inv.buyer_nip = buyer_nip
    third = []
    for p3 in root.findall(f"{FA}Podmiot3"):
        ident = p3.find(f"{FA}DaneIdentyfikacyjne")
        nip = ident.findtext(f"{FA}NIP") if ident is not None else None
        third.append(
            {
                "identifier": {"type": "Nip" if nip else "None", **({"value": nip} if nip else {})},
                "name": ident.findtext(f"{FA}Nazwa") if ident is not None else None,
                "role": int(p3.findtext(f"{FA}Rola") or 0),
            }
        )
    offline = inv.offline_mode or issue_date < inv.invoicing_date.date().isoformat()
    inv.invoicing_mode = "Offline" if offline else "Online"
    inv.ksef_number = crypto.ksef_number(seller, now)
    inv.acquisition_date = now
    inv.permanent_storage_date = now + permanent_storage_delay
    inv.status_code, inv.status_details, inv.status_extensions = 200, None, None
    net = _decimal_sum(
        root,
        [
            "P_13_1",
            "P_13_2",
            "P_13_3",
            "P_13_4",
            "P_13_5",
            "P_13_6_1",
            "P_13_6_2",
            "P_13_6_3",
            "P_13_7",
            "P_13_8",
            "P_13_9",
            "P_13_10",
            "P_13_11",
        ],
    )
    vat = _decimal_sum(root, ["P_14_1", "P_14_2", "P_14_3", "P_14_4", "P_14_5"])
    meta: dict[str, Any] = {
        "issueDate": issue_date,
        "sellerName": root.findtext(f"{FA}Podmiot1/{FA}DaneIdentyfikacyjne/{FA}Nazwa"),
        "buyerName": buyer.findtext(f"{FA}Nazwa") if buyer is not None else None,
        "buyerIdentifier": {"type": "Nip", "value": buyer_nip} if buyer_nip else {"type": "None"},
        "netAmount": net,
        "vatAmount": vat,
        "grossAmount": float(Decimal(root.findtext(f"{FA}Fa/{FA}P_15") or "0")),
        "currency": root.findtext(f"{FA}Fa/{FA}KodWaluty") or "PLN",
        "hasAttachment": root.find(f"{FA}Zalacznik") is not None,
        "thirdSubjects": third,
    }
    inv.meta = meta


def finalize_if_done(s: Session, session: InvoiceSession, now: dt.datetime) -> None:
    """A closed session whose invoices are all judged gets its final status."""
    if session.status_code not in (170, 150):
        return
    pending = s.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(
            Invoice.session_reference == session.reference_number,
            Invoice.status_code.in_((100, 150)),
        )
    )
    if pending:
        return
    ok = (
        s.scalar(
            sa.select(sa.func.count())
            .select_from(Invoice)
            .where(
                Invoice.session_reference == session.reference_number, Invoice.status_code == 200
            )
        )
        or 0
    )
    if session.invoice_count == 0:
        session.status_code = 440
    elif ok == 0:
        session.status_code = 445
    else:
        session.status_code = 200
        session.upo_reference = crypto.reference_number("EU", now)
    session.updated_at = now


class Processor:
    """A background thread that judges invoices in the order they arrive."""

    def __init__(self, store: Store, permanent_storage_delay: dt.timedelta) -> None:
        self.store, self.delay = store, permanent_storage_delay
        self._queue: queue.Queue[str] = queue.Queue()
        self._waiters: dict[int, threading.Event] = {}
        self._thread = threading.Thread(
            target=self._run, name="ksef-sandbox-processor", daemon=True
        )
        self._thread.start()
        with store.session() as s:  # resume what a restart interrupted
            for ref in s.scalars(
                sa.select(Invoice.reference_number).where(Invoice.status_code.in_((100, 150)))
            ):
                self._queue.put(ref)

    def submit(self, invoice_ref: str) -> None:
        self._queue.put(invoice_ref)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every submitted invoice was judged (tests)."""
        done = threading.Event()
        self._waiters[id(done)] = done
        self._queue.put(f"__drain__{id(done)}")
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            ref = self._queue.get()
            if ref.startswith("__drain__"):
                event = self._waiters.pop(int(ref[9:]), None)
                if event is not None:
                    event.set()
                continue
            try:
                process(self.store, ref, self.delay)
            except Exception:
                log.exception("processing of invoice %s failed", ref)
