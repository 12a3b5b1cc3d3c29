"""Export and import of master data as CSV or XLSX.

An import validates every row first and reports every problem with its row number; only a
file without problems is written, in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany
from integration.accounts.service import load_client
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from integration.core.identifiers import InvalidIdentifier, normalize_nip
from integration.masterdata.models import Counterparty, Product

KINDS = ("counterparties", "products")
COLUMNS = {
    "counterparties": ["nip", "name", "country", "address", "email"],
    "products": ["name", "unit", "vat_rate", "net_price"],
}
VAT_RATES = {"23", "22", "8", "7", "5", "4", "3", "0", "zw", "oo", "np"}
MAX_ROWS = 50_000
MAX_FILE_BYTES = 10 * 1024 * 1024


class ImportRejected(ValidationFailed):
    slug, title = "import-rejected", "The file has errors; nothing was imported"


def _client(s: Session, actor: Actor, client_id: int, *, write: bool) -> ClientCompany:
    client = load_client(s, actor, client_id)
    if write:
        if not (actor.works_for_bureau(client.bureau_id) or actor.administers_client(client)):
            raise Forbidden("only the bureau or the client's admin changes master data")
        guards.check_client_writable(s, client)
    return client


def _rows(s: Session, kind: str, client_id: int) -> list[list[str]]:
    if kind == "counterparties":
        return [
            [c.nip or "", c.name, c.country, c.address, c.email or ""]
            for c in s.scalars(
                select(Counterparty)
                .where(Counterparty.client_id == client_id)
                .order_by(Counterparty.name)
            )
        ]
    return [
        [p.name, p.unit, p.vat_rate, f"{p.net_price:.2f}"]
        for p in s.scalars(
            select(Product).where(Product.client_id == client_id).order_by(Product.name)
        )
    ]


def export(actor: Actor, client_id: int, kind: str, fmt: str) -> bytes:
    if kind not in KINDS:
        raise NotFound("no such master data")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.single("format", "csv or xlsx")
    with transaction() as s:
        _client(s, actor, client_id, write=False)
        rows = _rows(s, kind, client_id)
    header = COLUMNS[kind]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = kind
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def client_files(s: Session, client_id: int) -> dict[str, bytes]:
    """The client's master data as CSV files, by file name (for whole-bureau exports)."""
    files = {}
    for kind in KINDS:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS[kind])
        writer.writerows(_rows(s, kind, client_id))
        files[f"{kind}.csv"] = out.getvalue().encode("utf-8-sig")
    return files


def _read(data: bytes, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a person sees it, cells) of every data row; row 1 is the header."""
    if fmt == "csv":
        text = data.decode("utf-8-sig")
        for index, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            yield index, [cell.strip() for cell in row]
        return
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ImportRejected.single(
            "file", f"not a readable XLSX file ({type(exc).__name__})"
        ) from None
    sheet = book.worksheets[0]
    for index, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield index, ["" if cell is None else str(cell).strip() for cell in cells]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def import_file(actor: Actor, client_id: int, kind: str, fmt: str, data: bytes) -> ImportResult:
    if kind not in KINDS:
        raise NotFound("no such master data")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.single("format", "csv or xlsx")
    if len(data) > MAX_FILE_BYTES:
        raise ImportRejected.single("file", f"the file exceeds {MAX_FILE_BYTES} bytes")
    try:
        rows = list(_read(data, fmt))
    except UnicodeDecodeError:
        raise ImportRejected.single("file", "the CSV file is not UTF-8 text") from None
    if not rows or [c.lower() for c in rows[0][1][: len(COLUMNS[kind])]] != COLUMNS[kind]:
        raise ImportRejected.single("file", f"the first row must be: {', '.join(COLUMNS[kind])}")
    if len(rows) > MAX_ROWS:
        raise ImportRejected.single("file", f"at most {MAX_ROWS} rows")
    errors: list[FieldError] = []
    parsed: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, cells in rows[1:]:
        if not any(cells):
            continue
        record, row_errors = _validate(kind, cells)
        key = record.get("nip") or record.get("name") or ""
        if key and key in seen:
            row_errors.append(f"duplicates row {seen[key]}")
        seen.setdefault(key, number)
        errors.extend(FieldError(f"row {number}", message) for message in row_errors)
        parsed.append(record)
    if errors:
        raise ImportRejected(errors, detail=f"{len(errors)} problem(s); nothing was imported")
    with transaction() as s:
        _client(s, actor, client_id, write=True)
        return _upsert(s, kind, client_id, parsed)


def _validate(kind: str, cells: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    cells = list(cells) + [""] * (len(COLUMNS[kind]) - len(cells))
    values = dict(zip(COLUMNS[kind], cells, strict=False))
    problems: list[str] = []
    if not values["name"]:
        problems.append("name: must not be empty")
    if kind == "counterparties":
        if values["nip"]:
            try:
                values["nip"] = normalize_nip(values["nip"])
            except InvalidIdentifier as exc:
                problems.append(f"nip: {exc}")
        values["country"] = (values["country"] or "PL").upper()
        if len(values["country"]) != 2 or not values["country"].isalpha():
            problems.append("country: a two-letter code such as PL")
        if values["email"] and "@" not in values["email"]:
            problems.append("email: not an e-mail address")
        return values, problems
    if values["vat_rate"].lower() not in VAT_RATES:
        problems.append(f"vat_rate: one of {', '.join(sorted(VAT_RATES))}")
    values["vat_rate"] = values["vat_rate"].lower()
    price = _amount(values["net_price"])
    if price is None:
        problems.append("net_price: a non-negative amount with at most 2 decimals")
    record: dict[str, Any] = dict(values)
    record["net_price"] = price
    record["unit"] = values["unit"] or "szt."
    return record, problems


def _amount(text: str) -> Decimal | None:
    try:
        price = Decimal(text.replace(",", ".").replace(" ", ""))
        exact = price.is_finite() and price == price.quantize(Decimal("0.01"))
    except InvalidOperation:  # not a number, or too large to have cents
        return None
    if not exact or price < 0 or price >= Decimal("1e12"):
        return None
    return price


def _upsert(s: Session, kind: str, client_id: int, records: list[dict[str, Any]]) -> ImportResult:
    created = updated = 0
    stamp = now()
    for record in records:
        if kind == "counterparties":
            row: Counterparty | Product | None = s.scalar(
                select(Counterparty).where(
                    Counterparty.client_id == client_id,
                    Counterparty.nip == record["nip"]
                    if record["nip"]
                    else Counterparty.name == record["name"],
                )
            )
            if row is None:
                row = Counterparty(client_id=client_id)
                s.add(row)
                created += 1
            else:
                updated += 1
            assert isinstance(row, Counterparty)
            row.nip, row.name = record["nip"] or None, record["name"]
            row.country, row.address = record["country"], record["address"]
            row.email = record["email"] or None
        else:
            row = s.scalar(
                select(Product).where(
                    Product.client_id == client_id, Product.name == record["name"]
                )
            )
            if row is None:
                row = Product(client_id=client_id, name=record["name"])
                s.add(row)
                created += 1
            else:
                updated += 1
            assert isinstance(row, Product)
            row.unit, row.vat_rate, row.net_price = (
                record["unit"],
                record["vat_rate"],
                record["net_price"],
            )
        row.updated_at = stamp
    return ImportResult(created=created, updated=updated)
