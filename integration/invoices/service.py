"""Invoices as people see them: submit a sales invoice, list, read, download, retry.

Sending itself happens in jobs (:mod:`integration.invoices.sending`); a submission records the
intent in the database and enqueues the work after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany, Role
from integration.accounts.service import load_client
from integration.audit import service as audit
from integration.core.appctx import current_settings
from integration.core.clock import now, today_in_poland
from integration.core.db import transaction
from integration.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Text,
    ValidationFailed,
)
from integration.invoices import documents, pdf, qr, sync, visual
from integration.invoices.documents import InvoiceSummary, read_invoice
from integration.invoices.models import Channel, CostSync, Direction, Invoice, Source, State
from integration.jobs import enqueue_after_commit, job_id
from integration.licensing import service as licensing
from integration.licensing.numbers import Module
from integration.quota import service as quota

MAX_PAGE = 200
_OPEN_STATES = (State.QUEUED, State.SENDING, State.PROCESSING, State.ACCEPTED)


class DuplicateInvoice(Conflict):
    slug, title = "duplicate-invoice", "This invoice number was already sent for the seller"


def may_send(actor: Actor, client: ClientCompany) -> bool:
    """The bureau's people send for every client; the client's own people when allowed."""
    if actor.works_for_bureau(client.bureau_id):
        return True
    return client.client_may_send and actor.client_roles.get(client.id) in (
        Role.CLIENT_ADMIN,
        Role.CLIENT_USER,
    )


def client_for_sending(s: Session, actor: Actor, client_id: int) -> ClientCompany:
    client = load_client(s, actor, client_id)  # another tenant's client is 404 first
    if not may_send(actor, client):
        raise Forbidden("the bureau has not allowed this client to send invoices itself")
    licensing.require_module(s, client.bureau_id, Module.KSEF_SENDING)
    if not actor.works_for_bureau(client.bureau_id):
        licensing.require_module(s, client.bureau_id, Module.CLIENT_SELF_SERVICE)
    guards.check_client_writable(s, client)
    return client


def enqueue_sending(s: Session, client_id: int) -> None:
    """One sending job per client while it waits: invoices queued meanwhile travel with it.

    A job that is already running sends what was queued after it started in a follow-up job
    (see :func:`jobs.send_queued`).
    """
    enqueue_after_commit(
        s,
        "integration.invoices.jobs.send_queued",
        job_id=job_id("invoice-send", client_id),
        queue="ksef",
        client_id=client_id,
    )


def invoice_from(summary: InvoiceSummary, xml: bytes, **values: Any) -> Invoice:
    """A new invoice row carrying what ``summary`` read from ``xml``."""
    stamp = now()
    return Invoice(
        number=summary.number,
        invoice_type=summary.invoice_type,
        issue_date=summary.issue_date,
        seller_nip=summary.seller_nip,
        seller_name=summary.seller_name,
        buyer_identifier=summary.buyer_identifier,
        buyer_name=summary.buyer_name,
        currency=summary.currency,
        gross_amount=summary.gross_amount,
        xml=xml,
        sha256=summary.sha256,
        size=summary.size,
        created_at=stamp,
        updated_at=stamp,
        **values,
    )


def seller_problem(client: ClientCompany, summary: InvoiceSummary) -> str | None:
    """Why the client cannot send this invoice as its seller, if it cannot."""
    if summary.seller_nip == client.nip:
        return None
    return f"the seller's NIP (Podmiot1) is {summary.seller_nip}, not the client's NIP {client.nip}"


def issue_date_problem(summary: InvoiceSummary) -> str | None:
    """Why KSeF would refuse the invoice's issue date (P_1), if it would: a day in the future,
    judged on the calendar in Poland (KSeF answers such an invoice with 450)."""
    today = today_in_poland()
    if summary.issue_date <= today:
        return None
    return (
        f"the issue date (P_1) {summary.issue_date:%d.%m.%Y} is after today "
        f"({today:%d.%m.%Y} in Poland); KSeF refuses an invoice issued in the future, so send "
        "it on its issue date or correct P_1"
    )


def duplicate_problem(
    s: Session, client_id: int, summary: InvoiceSummary
) -> tuple[str, int] | None:
    """(why, which) when the client's invoice with this number and type is sent or on its way."""
    earlier = s.scalar(
        select(Invoice).where(
            Invoice.client_id == client_id,
            Invoice.direction == Direction.SALES,
            Invoice.number == summary.number,
            Invoice.invoice_type == summary.invoice_type,
            Invoice.state.in_(_OPEN_STATES),
        )
    )
    if earlier is None:
        return None
    why = (
        f"invoice {summary.number} is already {earlier.state.value} "
        f"(id {earlier.id}); KSeF accepts a number once per seller"
    )
    return why, earlier.id


def queued_sale(
    actor: Actor,
    client_id: int,
    summary: InvoiceSummary,
    xml: bytes,
    channel: Channel = Channel.ONLINE,
) -> Invoice:
    """A new sales invoice of the client, queued for KSeF."""
    return invoice_from(
        summary,
        xml,
        client_id=client_id,
        direction=Direction.SALES,
        state=State.QUEUED,
        source=Source.SENT,
        channel=channel,
        created_by_user_id=actor.user_id,
    )


def submit(actor: Actor, client_id: int, xml: bytes) -> Invoice:
    """Check a sales invoice (FA(3)) and queue it for KSeF."""
    with transaction() as s:  # who may send, before anything about the document is told
        client_for_sending(s, actor, client_id)
    summary = read_invoice(xml)
    with transaction() as s:
        client = client_for_sending(s, actor, client_id)
        quota.require_available(s, client.bureau_id)
        problem = seller_problem(client, summary) or issue_date_problem(summary)
        if problem:
            raise ValidationFailed.single("xml", problem)
        duplicate = duplicate_problem(s, client.id, summary)
        if duplicate is not None:
            raise DuplicateInvoice(duplicate[0], invoice_id=duplicate[1])
        invoice = queued_sale(actor, client.id, summary, xml, _channel_for(s, client, summary))
        if summary.has_attachment:
            invoice.error_description = BATCH_FOR_ATTACHMENT
        try:
            with s.begin_nested():  # a second submission at the same instant loses here
                s.add(invoice)
                s.flush()
        except IntegrityError:
            earlier = duplicate_problem(s, client.id, summary)
            raise DuplicateInvoice(
                earlier[0] if earlier else f"invoice {summary.number} is already on its way",
                invoice_id=earlier[1] if earlier else None,
            ) from None
        record(s, actor, client, "invoice.submitted", invoice)
        enqueue_sending(s, client.id)
    return invoice


def record(
    s: Session,
    actor: Actor | None,
    client: ClientCompany,
    action: str,
    invoice: Invoice,
    *,
    outcome: str = "ok",
    detail: str = "",
) -> None:
    """An invoice's step in the audit trail (its number, and KSeF's where there is one)."""
    said = detail or " ".join(
        part for part in (invoice.number, invoice.ksef_number or "", invoice.channel.value) if part
    )
    audit.for_client(
        s,
        actor,
        action,
        client,
        object_type="invoice",
        object_id=invoice.id,
        outcome=outcome,
        detail=said,
    )


BATCH_FOR_ATTACHMENT = (
    "the invoice has an attachment (Zalacznik), which KSeF takes in a batch session only: "
    "it travels to KSeF in a package of its own"
)


def _channel_for(s: Session, client: ClientCompany, summary: InvoiceSummary) -> Channel:
    """Online, but a package (batch session) for an invoice with an attachment."""
    if not summary.has_attachment:
        return Channel.ONLINE
    modules = licensing.licensed_modules(s, client.bureau_id)
    if modules is not None and Module.BATCH_SENDING not in modules:
        raise ValidationFailed.single(
            "xml",
            "the invoice has an attachment (Zalacznik), which KSeF takes in a batch session "
            "only, and the bureau's licence does not include packages (batch_sending); send "
            "it without the attachment or extend the licence",
        )
    return Channel.BATCH


@dataclass(frozen=True)
class InvoicePage:
    client: ClientCompany
    items: Sequence[Invoice]
    total: int
    page: int
    per_page: int


def matching(text: str) -> ColumnElement[bool]:
    """Invoices whose number, KSeF number, seller or buyer (NIP or name) contain ``text``."""
    pattern = f"%{text.strip().lower()}%"
    return or_(
        func.lower(Invoice.number).like(pattern),
        func.lower(Invoice.ksef_number).like(pattern),
        Invoice.seller_nip.like(pattern),
        func.lower(Invoice.seller_name).like(pattern),
        func.lower(Invoice.buyer_identifier).like(pattern),
        func.lower(Invoice.buyer_name).like(pattern),
    )


@dataclass(frozen=True)
class InvoiceFilter:
    """What narrows a list of a client's invoices."""

    direction: str | None = None
    state: str | None = None
    q: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None

    def where(self, client_id: int) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Invoice.client_id == client_id]
        if self.direction is not None:
            found.append(Invoice.direction == Direction(self.direction))
        if self.state is not None:
            found.append(Invoice.state == State(self.state))
        if self.q and self.q.strip():
            found.append(matching(self.q))
        if self.issued_from is not None:
            found.append(Invoice.issue_date >= self.issued_from)
        if self.issued_to is not None:
            found.append(Invoice.issue_date <= self.issued_to)
        return found


def list_invoices(
    actor: Actor,
    client_id: int,
    *,
    direction: str | None = None,
    state: str | None = None,
    q: str | None = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> InvoicePage:
    """A page of the client's invoices, newest issue date first, narrowed by the filters."""
    per_page = max(1, min(per_page, MAX_PAGE))
    page = max(page, 1)
    narrowed = InvoiceFilter(direction, state, q, issued_from, issued_to)
    with transaction() as s:
        client = load_client(s, actor, client_id)
        stmt = select(Invoice).where(*narrowed.where(client_id))
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        items = s.scalars(
            stmt.order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    return InvoicePage(client, items, total, page, per_page)


def _load(s: Session, client_id: int, invoice_id: int) -> Invoice:
    invoice = s.get(Invoice, invoice_id)
    if invoice is None or invoice.client_id != client_id:
        raise NotFound("no such invoice")
    return invoice


def get_invoice(actor: Actor, client_id: int, invoice_id: int) -> Invoice:
    with transaction() as s:
        load_client(s, actor, client_id)
        return _load(s, client_id, invoice_id)


LIVE_ROWS = 200
PROGRESS_IDS = 20_000


def invoices_by_id(actor: Actor, client_id: int, ids: Sequence[int]) -> list[Invoice]:
    """Some of the client's invoices by id (a page following their states), at most 200."""
    wanted = sorted(set(ids))[:LIVE_ROWS]
    with transaction() as s:
        load_client(s, actor, client_id)
        if not wanted:
            return []
        return list(
            s.scalars(select(Invoice).where(Invoice.client_id == client_id, Invoice.id.in_(wanted)))
        )


def progress(actor: Actor, client_id: int, ids: Sequence[int]) -> dict[str, int]:
    """How many of these invoices (a package, say) are in each state."""
    wanted = sorted(set(ids))[:PROGRESS_IDS]
    counts: dict[str, int] = {}
    with transaction() as s:
        load_client(s, actor, client_id)
        for start in range(0, len(wanted), 1000):
            for state, count in s.execute(
                select(Invoice.state, func.count())
                .where(Invoice.client_id == client_id, Invoice.id.in_(wanted[start : start + 1000]))
                .group_by(Invoice.state)
            ):
                counts[State(state).value] = counts.get(State(state).value, 0) + count
    return counts


def document(actor: Actor, client_id: int, invoice_id: int, kind: str) -> tuple[bytes, str]:
    """The invoice XML or its UPO, with a file name."""
    with transaction() as s:
        load_client(s, actor, client_id)
        invoice = _load(s, client_id, invoice_id)
        name = invoice.ksef_number or f"invoice-{invoice.id}"
        if kind == "xml":
            return invoice.xml, f"{name}.xml"
        if invoice.upo is None:
            raise NotFound("this invoice has no UPO (yet)")
        return invoice.upo, f"UPO-{name}.xml"


def retry(actor: Actor, client_id: int, invoice_id: int) -> Invoice:
    """Queue a failed invoice again (after its credentials were fixed, say)."""
    with transaction() as s:
        client = client_for_sending(s, actor, client_id)
        invoice = _load(s, client_id, invoice_id)
        quota.require_available(s, client.bureau_id)
        if invoice.state != State.FAILED:
            raise Conflict(
                Text(
                    "only an invoice not sent can be sent again; this one is %(state)s",
                    state=invoice.state.value,
                )
            )
        invoice.state, invoice.updated_at = State.QUEUED, now()
        invoice.error_code, invoice.error_description = None, ""
        try:
            with s.begin_nested():
                s.flush()
        except IntegrityError:
            raise DuplicateInvoice(
                f"invoice {invoice.number} was submitted again meanwhile and is on its way"
            ) from None
        record(s, actor, client, "invoice.retried", invoice)
        enqueue_sending(s, client_id)
    return invoice


@dataclass(frozen=True)
class CostSyncStatus:
    """How far the download of a client's cost invoices got, and how its last run went."""

    synced_until: datetime | None
    last_run_at: datetime | None
    last_error: str
    downloaded: int


def cost_sync_status(actor: Actor, client_id: int) -> CostSyncStatus:
    with transaction() as s:
        load_client(s, actor, client_id)
        row = s.get(CostSync, client_id)
        if row is None:
            return CostSyncStatus(None, None, "", 0)
        return CostSyncStatus(row.synced_until, row.last_run_at, row.last_error, row.downloaded)


def start_cost_sync(actor: Actor, client_id: int) -> None:
    """Download new cost invoices now. A read-only client is not downloaded (a download is a
    KSeF operation paid from the bureau's package); what it holds stays readable."""
    with transaction() as s:
        client = load_client(s, actor, client_id)
        licensing.require_module(s, client.bureau_id, Module.COST_SYNC)
        guards.check_client_writable(s, client)
    sync.request_sync(client_id)


@dataclass(frozen=True)
class InvoiceDocument:
    """What the invoice page shows: the stored row, its sections, KOD I and the UPO."""

    invoice: Invoice
    view: visual.InvoiceView
    kod_url: str
    kod_label: str  # the KSeF number under the code, or OFFLINE
    upo: documents.UpoDocument | None


def verification_link(invoice: Invoice) -> str:
    """KOD I's link for the invoice, on the QR host of the KSeF in use."""
    settings = current_settings()
    base = settings.ksef_qr_base_url or qr.qr_base(settings.ksef_base_url)
    digest = documents.sha256_b64(invoice.xml)  # of the file itself, as KSeF computes it
    return qr.verification_url(base, invoice.seller_nip, invoice.issue_date, digest)


def invoice_page(actor: Actor, client_id: int, invoice_id: int) -> InvoiceDocument:
    invoice = get_invoice(actor, client_id, invoice_id)
    upo = None
    if invoice.upo:
        try:
            upo = documents.read_upo_document(invoice.upo, invoice.ksef_number)
        except DomainError:  # a UPO that cannot be read is still offered as its file
            upo = None
    return InvoiceDocument(
        invoice=invoice,
        view=visual.read(invoice.xml),
        kod_url=verification_link(invoice),
        kod_label=invoice.ksef_number or qr.OFFLINE,
        upo=upo,
    )


def kod_image(actor: Actor, client_id: int, invoice_id: int, fmt: str) -> bytes:
    """KOD I as PNG or SVG."""
    if fmt not in ("png", "svg"):
        raise ValidationFailed.single("format", "png or svg")
    link = verification_link(get_invoice(actor, client_id, invoice_id))
    return qr.png(link) if fmt == "png" else qr.svg(link).encode()


def invoice_pdf(actor: Actor, client_id: int, invoice_id: int) -> tuple[bytes, str]:
    """The invoice page as a PDF, and a file name made of its number."""
    shown = invoice_page(actor, client_id, invoice_id)
    data = pdf.render(shown.invoice, shown.view, shown.kod_url, shown.kod_label, shown.upo)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", shown.invoice.number).strip("_") or "faktura"
    return data, f"{name}.pdf"


def upo_pdf(actor: Actor, client_id: int, invoice_id: int) -> tuple[bytes, str]:
    """The invoice's UPO as a PDF."""
    shown = invoice_page(actor, client_id, invoice_id)
    if shown.upo is None:
        raise NotFound("this invoice has no UPO (yet)")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", shown.invoice.number).strip("_") or "faktura"
    return pdf.render_upo(shown.upo), f"UPO-{name}.pdf"
