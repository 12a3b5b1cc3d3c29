"""The audit trail's table. Rows are only ever added: the database refuses UPDATE and DELETE
(triggers, see the migration) and the ORM refuses to flush a changed or deleted entry."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class AuditEntry(Base):
    """One change made by a person or an API client, or a KSeF operation made for them.

    Tenants and people are kept as plain numbers and labels, without foreign keys: the trail
    outlives what it speaks of (a deleted client, a removed person).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_bureau", "bureau_id", "id"),
        sa.Index("ix_audit_entry_client", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now)
    actor_kind: Mapped[str] = mapped_column(sa.String(12))  # person | api_client | service
    user_id: Mapped[int | None]
    api_client_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="")
    address: Mapped[str] = mapped_column(sa.String(45), default="")
    bureau_id: Mapped[int | None]
    client_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(30), default="")
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    outcome: Mapped[str] = mapped_column(sa.String(10), default="ok")  # ok | refused | failed
    detail: Mapped[str] = mapped_column(sa.String(1000), default="")


class AppendOnly(Exception):
    """Something tried to change or remove an audit entry."""


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, *_: object) -> None:
    if any(isinstance(o, AuditEntry) for o in (*session.dirty, *session.deleted)):
        raise AppendOnly("audit entries are never changed or removed")
