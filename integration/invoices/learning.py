"""Master data learnt from invoices: the other party of every invoice, the lines of sales.

A sales invoice names a customer (Podmiot2) and what the client sells (FaWiersz); a cost
invoice names a supplier (Podmiot1). Once an invoice is accepted, downloaded or imported, a
job reads it and adds what the client's master data lacks; ``Invoice.master_data_at`` marks
it done, so the work is repeatable and a periodic sweep finds whatever a lost job left.
Corrections are read for their party only: their lines carry differences, not prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from integration.core.clock import now
from integration.core.db import transaction
from integration.core.identifiers import InvalidIdentifier, normalize_nip
from integration.invoices.models import Direction, Invoice, State
from integration.jobs import enqueue_after_commit, job_id
from integration.masterdata.service import CounterpartyFacts, ProductFacts, learn
from integration.xml.parsing import XmlRejected, parse

BATCH = 200
MAX_STORED_BYTES = 16 * 1024 * 1024  # KSeF's limit with attachments is lower; this only bounds
_CENT = Decimal("0.01")
_RATES = {"23", "22", "8", "7", "5", "4", "3", "0 KR", "0 WDT", "0 EX", "zw", "oo", "np I", "np II"}


@dataclass(frozen=True)
class Facts:
    counterparty: CounterpartyFacts | None
    products: list[ProductFacts]


def _text(node: etree._Element, path: str, ns: dict[str, str]) -> str:
    return " ".join(str(node.xpath(f"string({path})", namespaces=ns)).split())


def _issued(root: etree._Element, ns: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(_text(root, "f:Fa/f:P_1", ns))
    except ValueError:
        return None


def _party(root: etree._Element, element: str, ns: dict[str, str]) -> CounterpartyFacts | None:
    party = root.find(f"f:{element}", ns)
    if party is None:
        return None
    ident = "f:DaneIdentyfikacyjne"
    name = _text(party, f"{ident}/f:Nazwa", ns)
    if not name:
        return None
    nip: str | None = None
    raw_nip = _text(party, f"{ident}/f:NIP", ns)
    if raw_nip:
        try:
            nip = normalize_nip(raw_nip)
        except InvalidIdentifier:
            nip = None
    country = (
        _text(party, "f:Adres/f:KodKraju", ns)
        or _text(party, f"{ident}/f:KodUE", ns)
        or _text(party, f"{ident}/f:KodKraju", ns)
        or "PL"
    ).upper()
    if len(country) != 2 or not country.isalpha():
        country = "PL"
    lines = [_text(party, "f:Adres/f:AdresL1", ns), _text(party, "f:Adres/f:AdresL2", ns)]
    email = _text(party, "f:DaneKontaktowe/f:Email", ns) or None
    return CounterpartyFacts(
        nip=nip,
        name=name,
        country=country,
        address=", ".join(line for line in lines if line),
        email=email if email and "@" in email else None,
        issued=_issued(root, ns),
    )


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _products(root: etree._Element, ns: dict[str, str]) -> list[ProductFacts]:
    products = []
    issued = _issued(root, ns)
    for line in root.iterfind("f:Fa/f:FaWiersz", ns):
        name = _text(line, "f:P_7", ns)
        rate = _text(line, "f:P_12", ns)
        if not name or rate not in _RATES:
            continue
        price = _amount(_text(line, "f:P_9A", ns))
        if price is None:  # no unit net price: the net value over the quantity, if both exist
            value, quantity = _amount(_text(line, "f:P_11", ns)), _amount(_text(line, "f:P_8B", ns))
            if value is None or not quantity:
                continue
            price = value / quantity
        price = price.quantize(_CENT)
        if not Decimal(0) <= price < Decimal("1e12"):
            continue
        products.append(
            ProductFacts(
                name=name,
                unit=_text(line, "f:P_8A", ns) or "szt.",
                vat_rate=rate,
                net_price=price,
                issued=issued,
            )
        )
    return products


def read_facts(xml: bytes, direction: Direction) -> Facts:
    """The other party of the invoice and, for sales, its priced lines; nothing if unreadable."""
    try:
        root = parse(xml, max_bytes=MAX_STORED_BYTES)
    except XmlRejected:
        return Facts(None, [])
    ns = {"f": etree.QName(root).namespace or ""}
    if direction == Direction.SALES:
        kind = _text(root, "f:Fa/f:RodzajFaktury", ns)
        lines = [] if kind.startswith("KOR") else _products(root, ns)
        return Facts(_party(root, "Podmiot2", ns), lines)
    return Facts(_party(root, "Podmiot1", ns), [])


def _pending(client_id: int) -> ColumnElement[bool]:
    return (
        (Invoice.client_id == client_id)
        & (Invoice.state == State.ACCEPTED)
        & Invoice.master_data_at.is_(None)
    )


def learn_from_invoices(client_id: int) -> dict[str, int]:
    """Take every accepted invoice of the client not yet read into its master data."""
    totals = {"invoices": 0, "counterparties": 0, "products": 0}
    while True:
        with transaction() as s:
            rows = s.execute(
                select(Invoice.id, Invoice.direction, Invoice.xml)
                .where(_pending(client_id))
                .order_by(Invoice.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return totals
            parties, products = [], []
            for _, direction, xml in rows:
                facts = read_facts(xml, direction)
                if facts.counterparty is not None:
                    parties.append(facts.counterparty)
                products += facts.products
            added = learn(s, client_id, parties, products)
            s.execute(
                update(Invoice)
                .where(Invoice.id.in_([row.id for row in rows]))
                .values(master_data_at=now())
            )
        totals["invoices"] += len(rows)
        totals["counterparties"] += added[0]
        totals["products"] += added[1]


def enqueue_learning(s: Session, client_id: int) -> None:
    """Read the client's new invoices into its master data once ``s`` commits."""
    enqueue_after_commit(
        s,
        "integration.invoices.jobs.learn_master_data",
        job_id=job_id("master-data", client_id),
        client_id=client_id,
    )


def request(client_id: int) -> bool:
    """Enqueue the client's learning job once if any accepted invoice of it is not yet read.

    Jobs that accept or download invoices call this once at their end, not once an invoice.
    """
    with transaction() as s:
        if s.scalar(select(Invoice.id).where(_pending(client_id)).limit(1)) is None:
            return False
        enqueue_learning(s, client_id)
    return True


def sweep() -> int:
    """Enqueue the learning of every client that has invoices not yet read."""
    with transaction() as s:
        clients = s.scalars(
            select(Invoice.client_id)
            .where(Invoice.state == State.ACCEPTED, Invoice.master_data_at.is_(None))
            .distinct()
        ).all()
        for client_id in clients:
            enqueue_learning(s, client_id)
    return len(clients)
