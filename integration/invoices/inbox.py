"""The bureau's view of every client's invoices: what arrived, what is on its way, what failed.

An accountant serving many companies starts the day here instead of opening each client:
new cost invoices since a moment, sales invoices KSeF rejected or the service could not send,
filtered by client, with counts by state for the whole bureau.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from integration.accounts.actor import Actor
from integration.accounts.models import Bureau, ClientCompany
from integration.core.db import transaction
from integration.core.errors import Forbidden, NotFound, ValidationFailed
from integration.invoices.models import Direction, Invoice, State
from integration.invoices.service import matching

MAX_PAGE = 200
ATTENTION = (State.FAILED, State.REJECTED)


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
) -> InboxPage:
    """Invoices of every client of the bureau, the most recently received first."""
    if not actor.sees_bureau(bureau_id):
        raise NotFound("no such bureau")
    if not actor.works_for_bureau(bureau_id):
        raise Forbidden("only the bureau's people see the invoices of all its clients")
    if page < 1:
        raise ValidationFailed.single("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE:
        raise ValidationFailed.single("per_page", f"must be between 1 and {MAX_PAGE}")
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


def activity(actor: Actor, bureau_id: int, *, since: datetime) -> dict[int, ClientActivity]:
    """For each client of the bureau: what needs attention, what arrived, what is on its way
    (one grouped query; clients without any of these are left out)."""
    if not actor.works_for_bureau(bureau_id):
        raise Forbidden("only the bureau's people see the invoices of all its clients")
    on_the_way = (State.QUEUED, State.SENDING, State.PROCESSING)
    with transaction() as s:
        rows = s.execute(
            select(
                Invoice.client_id,
                func.count().filter(
                    Invoice.direction == Direction.SALES, Invoice.state.in_(ATTENTION)
                ),
                func.count().filter(
                    Invoice.direction == Direction.COST, Invoice.created_at >= since
                ),
                func.count().filter(
                    Invoice.direction == Direction.SALES, Invoice.state.in_(on_the_way)
                ),
            )
            .join(ClientCompany, ClientCompany.id == Invoice.client_id)
            .where(ClientCompany.bureau_id == bureau_id)
            .where(
                Invoice.state.in_((*ATTENTION, *on_the_way))
                | ((Invoice.direction == Direction.COST) & (Invoice.created_at >= since))
            )
            .group_by(Invoice.client_id)
        ).all()
    return {
        client_id: ClientActivity(attention or 0, costs or 0, moving or 0)
        for client_id, attention, costs, moving in rows
    }
