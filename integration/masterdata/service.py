"""A client's master data: counterparties and products, learnt, edited and moved.

Rows come from three places: the client's invoices (:func:`learn`, which only adds what is
missing, so nothing a person entered is overwritten), a person editing one row at a time, and
CSV or XLSX files. An import validates every row first and reports every problem with its row
number; only a file without problems is written, in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from openpyxl import Workbook, load_workbook
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany
from integration.accounts.service import Page, load_client, paginate
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Text,
    ValidationFailed,
)
from integration.core.identifiers import InvalidIdentifier, normalize_nip
from integration.masterdata.models import Counterparty, Product

KINDS = ("counterparties", "products")
COLUMNS = {
    "counterparties": ["nip", "name", "country", "address", "email"],
    "products": ["name", "unit", "vat_rate", "net_price"],
}
# FA(3)'s TStawkaPodatku, and the plain "0" and "np" of older price lists
VAT_RATES = {
    "23", "22", "8", "7", "5", "4", "3", "0", "0 kr", "0 wdt", "0 ex", "zw", "oo", "np",
    "np i", "np ii",
}  # fmt: skip
_VAT_SPELLING = {"0 kr": "0 KR", "0 wdt": "0 WDT", "0 ex": "0 EX", "np i": "np I", "np ii": "np II"}
Record = Counterparty | Product
_MODEL: dict[str, type[Counterparty] | type[Product]] = {
    "counterparties": Counterparty,
    "products": Product,
}
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


def export(actor: Actor, client_id: int, kind: str, fmt: str, *, separator: str = ";") -> bytes:
    """Counterparties or products as CSV (UTF-8 with a BOM, ``;`` as Polish Excel opens it,
    or ``,``) or XLSX."""
    if separator not in (";", ","):
        raise ValidationFailed.single("separator", "a semicolon or a comma")
    if kind not in KINDS:
        raise NotFound("no such master data")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.single("format", "csv or xlsx")
    with transaction() as s:
        client = _client(s, actor, client_id, write=False)
        rows = _rows(s, kind, client_id)
        audit.for_client(
            s, actor, "export.master_data", client, detail=f"{kind} ({len(rows)} rows, {fmt})"
        )
    header = COLUMNS[kind]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, delimiter=separator)
        writer.writerow(header)
        priced = header.index("net_price") if "net_price" in header else -1
        writer.writerows(
            [
                cell.replace(".", ",") if i == priced and separator == ";" and cell else cell
                for i, cell in enumerate(row)
            ]
            for row in rows
        )
        return out.getvalue().encode("utf-8-sig")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = kind
    sheet.append(header)
    priced = header.index("net_price") if "net_price" in header else -1
    for cells in rows:
        row: list[str | Decimal] = list(cells)
        if priced >= 0 and cells[priced]:
            row[priced] = Decimal(cells[priced])
        sheet.append(row)
        if priced >= 0:
            sheet.cell(row=sheet.max_row, column=priced + 1).number_format = "#,##0.00"
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
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        for index, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
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


def check_file(kind: str, fmt: str, data: bytes) -> list[dict[str, Any]]:
    """Every row of a file, validated; :class:`ImportRejected` lists every problem by row."""
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
    except csv.Error as exc:
        raise ImportRejected.single("file", f"not a readable CSV file ({exc})") from None
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
    return parsed


def import_file(actor: Actor, client_id: int, kind: str, fmt: str, data: bytes) -> ImportResult:
    with transaction() as s:  # who may write is told before what is wrong with the file
        _client(s, actor, client_id, write=True)
    parsed = check_file(kind, fmt, data)
    with transaction() as s:
        client = _client(s, actor, client_id, write=True)
        result = write_records(s, kind, client_id, parsed)
        audit.for_client(
            s,
            actor,
            "import.master_data",
            client,
            detail=f"{kind}: {result.created} added, {result.updated} updated",
        )
        return result


def _validate(kind: str, cells: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    cells = list(cells) + [""] * (len(COLUMNS[kind]) - len(cells))
    values = dict(zip(COLUMNS[kind], cells, strict=False))
    problems: list[str] = []
    if not values["name"]:
        problems.append("name: must not be empty")
    limit = 300 if kind == "counterparties" else 256
    if len(values["name"]) > limit:
        problems.append(f"name: at most {limit} characters")
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
        if len(values["address"]) > 500:
            problems.append("address: at most 500 characters")
        if len(values["email"]) > 254:
            problems.append("email: at most 254 characters")
        return values, problems
    rate = " ".join(values["vat_rate"].lower().split())
    if rate not in VAT_RATES:
        rates = sorted({_VAT_SPELLING.get(r, r) for r in VAT_RATES})
        problems.append(f"vat_rate: one of {', '.join(rates)}")
    values["vat_rate"] = _VAT_SPELLING.get(rate, rate)
    price = _amount(values["net_price"])
    if price is None:
        problems.append("net_price: a non-negative amount with at most 2 decimals")
    record: dict[str, Any] = dict(values)
    record["net_price"] = price.quantize(Decimal("0.01")) if price is not None else None
    record["unit"] = values["unit"] or "szt."
    if len(record["unit"]) > 20:
        problems.append("unit: at most 20 characters")
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


def write_records(
    s: Session, kind: str, client_id: int, records: list[dict[str, Any]]
) -> ImportResult:
    """Write rows that :func:`check_file` accepted, in the caller's transaction."""
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
        _assign(row, record, "file", stamp)
    return ImportResult(created=created, updated=updated)


# ---------------------------------------------------------------------------- one row at a time
def _model(kind: str) -> type[Counterparty] | type[Product]:
    try:
        return _MODEL[kind]
    except KeyError:
        raise NotFound("no such master data") from None


def list_records(
    actor: Actor,
    client_id: int,
    kind: str,
    *,
    search: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Record]:
    """A page of counterparties or products, by name; ``search`` matches name or NIP."""
    model = _model(kind)
    with transaction() as s:
        _client(s, actor, client_id, write=False)
        # one of the two models, which the typing of select() cannot follow
        stmt = cast("Select[Record]", select(model).where(model.client_id == client_id))
        if search and search.strip():
            pattern = f"%{search.strip().lower()}%"
            match: ColumnElement[bool] = func.lower(model.name).like(pattern)
            if model is Counterparty:
                match = or_(match, Counterparty.nip.like(pattern))
            stmt = stmt.where(match)
        return paginate(s, stmt.order_by(model.name, model.id), page, per_page)


def _load(s: Session, kind: str, client_id: int, record_id: int) -> Record:
    row = s.get(_model(kind), record_id)
    if not isinstance(row, Counterparty | Product) or row.client_id != client_id:
        raise NotFound(Text("no such entry in %(kind)s", kind=kind))
    return row


def _cells(kind: str, row: Record | None, values: Mapping[str, object]) -> list[str]:
    unknown = set(values) - set(COLUMNS[kind])
    if unknown:
        raise ValidationFailed.single(sorted(unknown)[0], f"{kind} have no such field")
    cells = []
    for column in COLUMNS[kind]:
        if column in values:
            value = values[column]
            cells.append("" if value is None else str(value).strip())
        else:
            current = getattr(row, column, None) if row is not None else None
            cells.append("" if current is None else str(current))
    return cells


def _checked(kind: str, cells: list[str]) -> dict[str, Any]:
    record, problems = _validate(kind, cells)
    if problems:
        raise ValidationFailed(
            [FieldError(p.split(":", 1)[0], p.split(":", 1)[1].strip()) for p in problems]
        )
    return record


def _clash(s: Session, kind: str, client_id: int, record: dict[str, Any], own: int | None) -> None:
    if kind == "counterparties":
        key = Counterparty.nip == record["nip"] if record["nip"] else None
        field = "nip"
    else:
        key, field = Product.name == record["name"], "name"
    if key is None:
        return
    model = _model(kind)
    other = s.scalar(select(model.id).where(model.client_id == client_id, key))
    if other is not None and other != own:
        raise Conflict(
            Text("the client already has this %(field)s in %(kind)s", field=field, kind=kind),
            field=field,
            id=other,
        )


def _assign(row: Record, record: dict[str, Any], source: str, at: datetime) -> None:
    """Write a checked record (from :func:`_validate`) into its row."""
    if isinstance(row, Counterparty):
        row.nip, row.name = record["nip"] or None, record["name"]
        row.country, row.address = record["country"], record["address"]
        row.email = record["email"] or None
    else:
        row.name, row.unit = record["name"], record["unit"]
        row.vat_rate, row.net_price = record["vat_rate"], record["net_price"]
    row.source, row.updated_at = source, at


def add_record(actor: Actor, client_id: int, kind: str, values: Mapping[str, object]) -> Record:
    """A person enters a counterparty or product."""
    model = _model(kind)
    with transaction() as s:
        client = _client(s, actor, client_id, write=True)
        record = _checked(kind, _cells(kind, None, values))
        _clash(s, kind, client_id, record, None)
        row = model(client_id=client_id)
        _assign(row, record, "manual", now())
        s.add(row)
        s.flush()
        audit.for_client(
            s, actor, "master_data.added", client, detail=f"{kind} #{row.id}: {row.name}"
        )
    return row


def change_record(
    actor: Actor, client_id: int, kind: str, record_id: int, values: Mapping[str, object]
) -> Record:
    """A person edits some fields of a row; the others stay."""
    with transaction() as s:
        client = _client(s, actor, client_id, write=True)
        row = _load(s, kind, client_id, record_id)
        record = _checked(kind, _cells(kind, row, values))
        _clash(s, kind, client_id, record, row.id)
        _assign(row, record, "manual", now())
        audit.for_client(
            s, actor, "master_data.changed", client, detail=f"{kind} #{row.id}: {row.name}"
        )
    return row


def remove_record(actor: Actor, client_id: int, kind: str, record_id: int) -> None:
    with transaction() as s:
        client = _client(s, actor, client_id, write=True)
        row = _load(s, kind, client_id, record_id)
        s.delete(row)
        audit.for_client(
            s, actor, "master_data.removed", client, detail=f"{kind} #{row.id}: {row.name}"
        )


# ---------------------------------------------------------------------------- learnt from invoices
@dataclass(frozen=True)
class CounterpartyFacts:
    """A party as an invoice issued on ``issued`` names it."""

    nip: str | None
    name: str
    country: str
    address: str
    email: str | None
    issued: date | None = None


@dataclass(frozen=True)
class ProductFacts:
    """A line of a sales invoice issued on ``issued``, as a price-list entry."""

    name: str
    unit: str
    vat_rate: str
    net_price: Decimal
    issued: date | None = None


def _insert(s: Session, row: Record) -> bool:
    """Add the row unless a concurrent writer added the same one first."""
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError:
        return False
    return True


def _follows(row: Record, issued: date | None) -> bool:
    """Whether a row learnt from invoices takes what a newer (or as new) invoice says."""
    return (
        row.source == "invoice"
        and issued is not None
        and (row.learnt_on is None or issued >= row.learnt_on)
    )


def learn(
    s: Session,
    client_id: int,
    counterparties: Sequence[CounterpartyFacts],
    products: Sequence[ProductFacts],
) -> tuple[int, int]:
    """Add the counterparties and products the master data lacks; (counterparties, products).

    Rows are matched by NIP (by name for a party without one) and by name for a product. A row
    learnt from invoices takes the details of a newer invoice (a new address, a new price);
    a row a person entered or imported is left as it is.
    """
    added_parties = added_products = 0
    stamp = now()
    for party in counterparties:
        if not party.name:
            continue
        key = (
            Counterparty.nip == party.nip
            if party.nip
            else (Counterparty.nip.is_(None) & (Counterparty.name == party.name[:300]))
        )
        known = s.scalar(select(Counterparty).where(Counterparty.client_id == client_id, key))
        values: dict[str, object] = {
            "name": party.name[:300],
            "country": party.country,
            "address": party.address[:500],
            "email": party.email[:254] if party.email else None,
            "learnt_on": party.issued,
            "updated_at": stamp,
        }
        if known is None:
            party_row = Counterparty(client_id=client_id, nip=party.nip, source="invoice", **values)
            added_parties += _insert(s, party_row)
        elif _follows(known, party.issued):
            for field, value in values.items():
                setattr(known, field, value)
    for product in products:
        name = product.name[:256]
        if not name:
            continue
        known_product = s.scalar(
            select(Product).where(Product.client_id == client_id, Product.name == name)
        )
        facts: dict[str, object] = {
            "unit": product.unit[:20] or "szt.",
            "vat_rate": product.vat_rate,
            "net_price": product.net_price,
            "learnt_on": product.issued,
            "updated_at": stamp,
        }
        if known_product is None:
            product_row = Product(client_id=client_id, name=name, source="invoice", **facts)
            added_products += _insert(s, product_row)
        elif _follows(known_product, product.issued):
            for field, value in facts.items():
                setattr(known_product, field, value)
    return added_parties, added_products
