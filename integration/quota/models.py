"""A bureau's KSeF package: the balance and the ledger that explains it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class QuotaAccount(Base):
    __tablename__ = "quota_account"

    bureau_id: Mapped[int] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    # Operations set aside for work under way (an invoice being sent, a download); what is
    # left to promise is balance - reserved, and the balance never goes below zero
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=now)
    # When the bureau's admins were told the package runs low; a top-up clears it
    low_warned_at: Mapped[datetime | None]


class QuotaEntry(Base):
    """One movement. ``operation_key`` is unique: the same KSeF operation is never debited
    twice, whatever retries or crashes happen around it."""

    __tablename__ = "quota_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="SET NULL")
    )
    operation_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # send | download | top_up
    amount: Mapped[int]  # negative for debits
    balance_after: Mapped[int]
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
