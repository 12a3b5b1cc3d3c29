"""Counterparties and products of a client company.

``source`` says where a row came from: ``invoice`` (learnt from the client's invoices),
``manual`` (entered or edited by a person) or ``file`` (an imported CSV/XLSX). Rows learnt
from invoices follow newer invoices (``learnt_on`` is the issue date they were read from) and
never overwrite what a person entered.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class Counterparty(Base):
    __tablename__ = "counterparty"
    __table_args__ = (sa.UniqueConstraint("client_id", "nip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    nip: Mapped[str | None] = mapped_column(sa.String(10))
    name: Mapped[str] = mapped_column(sa.String(300))
    country: Mapped[str] = mapped_column(sa.String(2), default="PL")
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    email: Mapped[str | None] = mapped_column(sa.String(254))
    source: Mapped[str] = mapped_column(sa.String(10), default="manual")
    learnt_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=now)


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (sa.UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(256))
    unit: Mapped[str] = mapped_column(sa.String(20), default="szt.")
    vat_rate: Mapped[str] = mapped_column(sa.String(6))
    net_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    source: Mapped[str] = mapped_column(sa.String(10), default="manual")
    learnt_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=now)
