"""Recording the audit trail, and reading it back for a bureau or a client.

Every service that changes something records it with :func:`record` inside the transaction
that makes the change: the entry exists if and only if the change does. KSeF operations made
in jobs are recorded with the service as the actor, on behalf of the tenant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from integration.audit.models import AuditEntry
from integration.core.clock import now

MAX_PAGE = 200
MAX_EXPORT = 100_000


class Where(TypedDict):
    """Whose trail an entry belongs to: a client's entries show to its bureau as well."""

    bureau_id: int | None
    client_id: int | None


def of_client(bureau_id: int | None, client_id: int | None) -> Where:
    return {"bureau_id": bureau_id, "client_id": client_id}


class Company(Protocol):
    """A client company, as far as the trail needs to know it."""

    @property
    def id(self) -> int: ...

    @property
    def bureau_id(self) -> int: ...


class Who(Protocol):
    """The actor of a change, as the accounts domain knows it."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def api_client_id(self) -> int | None: ...

    @property
    def address(self) -> str | None: ...

    @property
    def display(self) -> str: ...


def record(
    s: Session,
    who: Who | None,
    action: str,
    *,
    bureau_id: int | None = None,
    client_id: int | None = None,
    object_type: str = "",
    object_id: object = "",
    outcome: str = "ok",
    detail: str = "",
    label: str = "",
) -> AuditEntry:
    """Add one entry in the caller's transaction. ``who`` None is the service itself."""
    if who is not None and who.user_id is not None:
        kind = "person"
    elif who is not None and who.api_client_id is not None:
        kind = "api_client"
    else:
        kind = "service"
    entry = AuditEntry(
        at=now(),
        actor_kind=kind,
        user_id=who.user_id if who is not None else None,
        api_client_id=who.api_client_id if who is not None else None,
        actor_label=(label or (who.display if who is not None else "") or "Delegat")[:254],
        address=((who.address if who is not None else None) or "")[:45],
        bureau_id=bureau_id,
        client_id=client_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=outcome,
        detail=detail[:1000],
    )
    s.add(entry)
    return entry


def for_client(
    s: Session,
    who: Who | None,
    action: str,
    company: Company,
    *,
    object_type: str = "client",
    object_id: object = None,
    outcome: str = "ok",
    detail: str = "",
) -> AuditEntry:
    """An entry of a client company's trail (its bureau's too); the object is the company
    itself unless named."""
    return record(
        s,
        who,
        action,
        object_type=object_type,
        object_id=company.id if object_id is None else object_id,
        outcome=outcome,
        detail=detail,
        **of_client(company.bureau_id, company.id),
    )


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None  # a whole action or its prefix ("grant." )
    outcome: str | None = None
    actor: str | None = None  # part of the actor's label
    since: datetime | None = None
    until: datetime | None = None
    client_id: int | None = None


@dataclass(frozen=True)
class AuditPage:
    items: Sequence[AuditEntry]
    total: int
    page: int
    per_page: int


def _narrowed(stmt: Select[AuditEntry], f: AuditFilter) -> Select[AuditEntry]:
    if f.action:
        stmt = stmt.where(
            (AuditEntry.action == f.action)
            | AuditEntry.action.startswith(f.action.rstrip(".") + ".")
        )
    if f.outcome:
        stmt = stmt.where(AuditEntry.outcome == f.outcome)
    if f.actor:
        stmt = stmt.where(AuditEntry.actor_label.contains(f.actor, autoescape=True))
    if f.since:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until:
        stmt = stmt.where(AuditEntry.at <= f.until)
    if f.client_id is not None:
        stmt = stmt.where(AuditEntry.client_id == f.client_id)
    return stmt


def entries(
    s: Session,
    *,
    bureau_id: int | None = None,
    client_id: int | None = None,
    narrow: AuditFilter = AuditFilter(),
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """One page of a tenant's trail, newest first (the caller has authorized the reader)."""
    stmt = _narrowed(_of_tenant(bureau_id, client_id), narrow)
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = s.scalars(
        stmt.order_by(AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return AuditPage(rows, total, page, per_page)


def _of_tenant(bureau_id: int | None, client_id: int | None) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if bureau_id is not None:
        return stmt.where(AuditEntry.bureau_id == bureau_id)
    return stmt.where(AuditEntry.client_id == client_id)


COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor_label",
    "address",
    "bureau_id",
    "client_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "detail",
)


def as_csv(
    s: Session,
    *,
    bureau_id: int | None = None,
    client_id: int | None = None,
    narrow: AuditFilter = AuditFilter(),
    separator: str = ";",
) -> bytes:
    """The tenant's trail, narrowed, as CSV (UTF-8 with BOM for spreadsheets), oldest first."""
    stmt = _narrowed(_of_tenant(bureau_id, client_id), narrow).order_by(AuditEntry.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator)
    writer.writerow(COLUMNS)
    for row in s.scalars(stmt.limit(MAX_EXPORT).execution_options(yield_per=1000)):
        writer.writerow(
            [
                row.id,
                row.at.isoformat(),
                row.actor_kind,
                _safe_cell(row.actor_label),
                row.address,
                row.bureau_id or "",
                row.client_id or "",
                row.action,
                row.object_type,
                _safe_cell(row.object_id),
                row.outcome,
                _safe_cell(row.detail),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
