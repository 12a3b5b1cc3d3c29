"""A register of invoices (zestawienie faktur) as a spreadsheet: what an accountant files.

The rows are the client's invoices narrowed like the list on screen (direction, state, search,
issue dates), oldest issue date first, one line each with the parties, the gross amount, the
KSeF number and where the invoice stands.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select

from integration.accounts.actor import Actor
from integration.accounts.service import load_client
from integration.audit import service as audit
from integration.core.db import transaction
from integration.core.errors import ValidationFailed
from integration.invoices.models import Invoice
from integration.invoices.service import InvoiceFilter

MAX_ROWS = 100_000
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADER = [
    "direction",
    "number",
    "type",
    "issue_date",
    "seller_nip",
    "seller_name",
    "buyer_id",
    "buyer_name",
    "gross_amount",
    "currency",
    "ksef_number",
    "acquired_at",
    "state",
    "error",
]


def _row(invoice: Invoice) -> list[Any]:
    return [
        invoice.direction.value,
        invoice.number,
        invoice.invoice_type,
        invoice.issue_date,
        invoice.seller_nip,
        invoice.seller_name,
        invoice.buyer_identifier or "",
        invoice.buyer_name,
        invoice.gross_amount,
        invoice.currency,
        invoice.ksef_number or "",
        invoice.acquired_at.replace(tzinfo=None) if invoice.acquired_at else "",
        invoice.state.value,
        invoice.error_description if invoice.state.value in ("failed", "rejected") else "",
    ]


def _rows(actor: Actor, client_id: int, narrowed: InvoiceFilter) -> Iterator[list[Any]]:
    with transaction() as s:
        load_client(s, actor, client_id)
        stmt = (
            select(Invoice)
            .where(*narrowed.where(client_id))
            .order_by(Invoice.issue_date, Invoice.id)
            .limit(MAX_ROWS + 1)
            .execution_options(yield_per=500)
        )
        for count, invoice in enumerate(s.scalars(stmt)):
            if count == MAX_ROWS:
                raise ValidationFailed.single(
                    "issued_from", f"more than {MAX_ROWS} invoices; narrow the dates"
                )
            yield _row(invoice)


def client_register(
    actor: Actor, client_id: int, fmt: str, narrowed: InvoiceFilter, *, separator: str = ";"
) -> bytes:
    """The register as CSV or XLSX. CSV is UTF-8 with a BOM; with ``;`` (the default, as
    Polish Excel opens it) amounts have a decimal comma, with ``,`` a decimal point."""
    if separator not in (";", ","):
        raise ValidationFailed.single("separator", "a semicolon or a comma")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.single("format", "csv or xlsx")
    rows = list(_rows(actor, client_id, narrowed))
    with transaction() as s:
        client = load_client(s, actor, client_id)
        audit.for_client(
            s,
            actor,
            "export.register",
            client,
            detail=f"{len(rows)} invoice(s), {fmt}",
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, delimiter=separator)
        writer.writerow(HEADER)
        point = "," if separator == ";" else "."
        writer.writerows(
            [f"{cell:.2f}".replace(".", point) if i == 8 else cell for i, cell in enumerate(row)]
            for row in rows
        )
        return out.getvalue().encode("utf-8-sig")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("invoices")
    sheet.append(HEADER)
    for row in rows:  # amounts as numbers with two decimals, dates as dates
        amount = WriteOnlyCell(sheet, value=row[8])
        amount.number_format = "#,##0.00"
        issued = WriteOnlyCell(sheet, value=row[3])
        issued.number_format = "DD.MM.YYYY"
        sheet.append([*row[:3], issued, *row[4:8], amount, *row[9:]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
