"""The bureau's view of every client's invoices: what arrived, what is on its way, what failed.

An accountant serving many companies starts the day here instead of opening each client:
new cost invoices since a moment, sales invoices KSeF rejected or the service could not send,
filtered by client, with counts by state for the whole bureau.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from integration.accounts.actor import Actor
from integration.accounts.models import Bureau, ClientCompany
from integration.core.db import transaction
from integration.core.errors import Forbidden, NotFound, Text, ValidationFailed
from integration.invoices.models import Direction, Invoice, State
from integration.invoices.service import matching

MAX_PAGE = 200
ATTENTION = (State.FAILED, State.REJECTED)


def _bureau_people_only(actor: Actor, bureau_id: int) -> None:
    if not actor.works_for_bureau(bureau_id):
        raise Forbidden("only the bureau's people see the invoices of all its clients")


@dataclass(frozen=True)
class InboxItem:
    invoice: Invoice
    client_name: str


@dataclass(frozen=True)
class InboxPage:
    items: Sequence[InboxItem]
    total: int
    page: int
    per_page: int
    counts: dict[str, dict[str, int]]  # direction -> state -> how many, for the whole bureau


def _filters(
    bureau_id: int,
    *,
    direction: str | None,
    states: Sequence[str],
    client_id: int | None,
    received_from: datetime | None,
    q: str | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [ClientCompany.bureau_id == bureau_id]
    try:
        if direction:
            where.append(Invoice.direction == Direction(direction))
        if states:
            where.append(Invoice.state.in_([State(st) for st in states]))
    except ValueError as exc:
        raise ValidationFailed.single("state" if states else "direction", str(exc)) from None
    if client_id is not None:
        where.append(Invoice.client_id == client_id)
    if received_from is not None:
        where.append(Invoice.created_at >= received_from)
    if q and q.strip():
        where.append(matching(q))
    return where


def bureau_invoices(
    actor: Actor,
    bureau_id: int,
    *,
    direction: str | None = None,
    states: Sequence[str] = (),
    client_id: int | None = None,
    received_from: datetime | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 50,
    counted: bool = True,
) -> InboxPage:
    """Invoices of every client of the bureau, the most recently received first."""
    if not actor.sees_bureau(bureau_id):
        raise NotFound("no such bureau")
    _bureau_people_only(actor, bureau_id)
    if page < 1:
        raise ValidationFailed.single("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE:
        raise ValidationFailed.single(
            "per_page", Text("must be between 1 and %(most)d", most=MAX_PAGE)
        )
    where = _filters(
        bureau_id,
        direction=direction,
        states=states,
        client_id=client_id,
        received_from=received_from,
        q=q,
    )
    with transaction() as s:
        if s.get(Bureau, bureau_id) is None:
            raise NotFound("no such bureau")
        joined = select(Invoice, ClientCompany.name).join(
            ClientCompany, ClientCompany.id == Invoice.client_id
        )
        total = (
            s.scalar(
                select(func.count())
                .select_from(Invoice)
                .join(ClientCompany, ClientCompany.id == Invoice.client_id)
                .where(*where)
            )
            or 0
        )
        rows = s.execute(
            joined.where(*where)
            .order_by(Invoice.created_at.desc(), Invoice.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        counts: dict[str, dict[str, int]] = {d.value: {} for d in Direction}
        if counted:  # a whole-bureau scan: only the pages that show the counts ask for them
            for row_direction, state, count in s.execute(
                select(Invoice.direction, Invoice.state, func.count())
                .join(ClientCompany, ClientCompany.id == Invoice.client_id)
                .where(ClientCompany.bureau_id == bureau_id)
                .group_by(Invoice.direction, Invoice.state)
            ):
                counts[Direction(row_direction).value][State(state).value] = count
    return InboxPage(
        items=[InboxItem(invoice, name) for invoice, name in rows],
        total=total,
        page=page,
        per_page=per_page,
        counts=counts,
    )


@dataclass(frozen=True)
class ClientActivity:
    """One client's line on the bureau's dashboard."""

    attention: int  # sales invoices rejected by KSeF or not sent
    new_costs: int  # cost invoices received since the moment asked about
    open_sales: int  # sales invoices on their way (queued, sending, in KSeF)


def activity(
    actor: Actor, bureau_id: int, *, since: datetime, of: Sequence[int]
) -> dict[int, ClientActivity]:
    """For the clients ``of`` (a page of the bureau's): what needs attention, what is on its
    way, and the cost invoices that arrived ``since``; clients with none are left out."""
    _bureau_people_only(actor, bureau_id)
    on_the_way = (State.QUEUED, State.SENDING, State.PROCESSING)
    attention: Counter[int] = Counter()
    moving: Counter[int] = Counter()
    with transaction() as s:
        for client_id, state, count in s.execute(
            select(Invoice.client_id, Invoice.state, func.count())
            .join(ClientCompany, ClientCompany.id == Invoice.client_id)
            .where(
                ClientCompany.bureau_id == bureau_id,
                Invoice.client_id.in_(list(of)),
                Invoice.state.in_((*ATTENTION, *on_the_way)),
                Invoice.direction == Direction.SALES,
            )
            .group_by(Invoice.client_id, Invoice.state)
        ):
            (attention if State(state) in ATTENTION else moving)[client_id] += count
        arrivals = s.execute(
            select(Invoice.client_id, func.count())
            .join(ClientCompany, ClientCompany.id == Invoice.client_id)
            .where(
                ClientCompany.bureau_id == bureau_id,
                Invoice.direction == Direction.COST,
                Invoice.created_at >= since,
            )
            .group_by(Invoice.client_id)
        ).all()
    arrived: dict[int, int] = dict(arrivals)  # pairs (a Result would pass for a mapping)
    return {
        client_id: ClientActivity(
            attention[client_id], arrived.get(client_id, 0), moving[client_id]
        )
        for client_id in {*attention, *moving, *arrived}
    }


def arrived_since(actor: Actor, bureau_id: int, since: datetime) -> int:
    """How many cost invoices arrived for the bureau's clients since a moment (over the
    arrivals index, which holds the client too)."""
    _bureau_people_only(actor, bureau_id)
    with transaction() as s:
        ours = select(ClientCompany.id).where(ClientCompany.bureau_id == bureau_id)
        return (
            s.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(
                    Invoice.direction == Direction.COST,
                    Invoice.created_at >= since,
                    Invoice.client_id.in_(ours.scalar_subquery()),
                )
            )
            or 0
        )


@dataclass(frozen=True)
class ClientPage:
    """A page of the bureau's clients for its dashboard: those needing attention first."""

    items: Sequence[ClientCompany]
    found: int  # matching the search
    total: int  # all of the bureau's clients
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.found // self.per_page))


def client_page(
    actor: Actor, bureau_id: int, *, q: str | None = None, page: int = 1, per_page: int = 50
) -> ClientPage:
    """The bureau's clients searched by name or NIP, those with sales invoices rejected or not
    sent first, then by name (paged in the database)."""
    _bureau_people_only(actor, bureau_id)
    per_page = max(1, min(per_page, MAX_PAGE))
    where: list[ColumnElement[bool]] = [ClientCompany.bureau_id == bureau_id]
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        named = ClientCompany.name.icontains(q, autoescape=True)
        where.append(
            named | ClientCompany.nip.contains(digits, autoescape=True) if digits else named
        )
    troubled = (
        select(Invoice.id)
        .where(
            Invoice.client_id == ClientCompany.id,
            Invoice.direction == Direction.SALES,
            Invoice.state.in_(ATTENTION),
        )
        .exists()
    )
    with transaction() as s:
        total = (
            s.scalar(
                select(func.count())
                .select_from(ClientCompany)
                .where(ClientCompany.bureau_id == bureau_id)
            )
            or 0
        )
        found = s.scalar(select(func.count()).select_from(ClientCompany).where(*where)) or 0
        items = s.scalars(
            select(ClientCompany)
            .where(*where)
            .order_by(troubled.desc(), ClientCompany.name, ClientCompany.id)
            .offset((max(page, 1) - 1) * per_page)
            .limit(per_page)
        ).all()
    return ClientPage(items, found, total, max(page, 1), per_page)


def attention_count(actor: Actor, bureau_id: int) -> int:
    """How many of the bureau's sales invoices were rejected or not sent (over the index of
    states)."""
    _bureau_people_only(actor, bureau_id)
    with transaction() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Invoice)
                .join(ClientCompany, ClientCompany.id == Invoice.client_id)
                .where(
                    ClientCompany.bureau_id == bureau_id,
                    Invoice.state.in_(ATTENTION),
                    Invoice.direction == Direction.SALES,
                )
            )
            or 0
        )


def has_accepted_sales(actor: Actor, bureau_id: int) -> bool:
    """Whether KSeF accepted any sales invoice of the bureau's clients (the first steps)."""
    _bureau_people_only(actor, bureau_id)
    with transaction() as s:
        return bool(
            s.scalar(
                select(
                    select(Invoice.id)
                    .join(ClientCompany, ClientCompany.id == Invoice.client_id)
                    .where(
                        ClientCompany.bureau_id == bureau_id,
                        Invoice.direction == Direction.SALES,
                        Invoice.state == State.ACCEPTED,
                    )
                    .exists()
                )
            )
        )
