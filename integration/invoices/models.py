"""Invoices of a client company: sales invoices it sends and cost invoices it receives."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class Direction(StrEnum):
    SALES = "sales"  # the client is the seller (Podmiot1)
    COST = "cost"  # the client is the buyer (Podmiot2)


class State(StrEnum):
    """Sales submissions move queued → sending → processing → accepted | rejected.

    ``failed`` means the service could not send (no credentials, KSeF refused the session);
    a person may queue it again. Cost and imported invoices are ``accepted`` from the start.
    """

    QUEUED = "queued"
    SENDING = "sending"
    PROCESSING = "processing"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"


class Channel(StrEnum):
    """How a sales invoice travels to KSeF: alone in an online session, or in a package."""

    ONLINE = "online"
    BATCH = "batch"


class Source(StrEnum):
    SENT = "sent"
    SYNCED = "synced"
    IMPORTED = "imported"


def _enum(kind: type[StrEnum], name: str, length: int) -> sa.Enum:
    return sa.Enum(
        kind,
        name=name,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


OPEN_SALE = sa.text(
    "direction = 'sales' AND state IN ('queued', 'sending', 'processing', 'accepted')"
)


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "ksef_number"),
        sa.Index("ix_invoice_client_listing", "client_id", "direction", "issue_date"),
        sa.Index("ix_invoice_state", "state", "updated_at"),
        sa.Index("ix_invoice_arrivals", "created_at", "direction", "client_id"),  # since when
        # the bureau's counts by state: read from the index alone
        sa.Index("ix_invoice_client_states", "client_id", "direction", "state"),
        # KSeF takes a number once per seller: while a sales invoice is open, it is the only
        # one of its client with its type and number (a second submission at once is refused)
        sa.Index(
            "uq_invoice_open_number",
            "client_id",
            "invoice_type",
            "number",
            unique=True,
            postgresql_where=OPEN_SALE,
            sqlite_where=OPEN_SALE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "invoice_direction", 8))
    state: Mapped[State] = mapped_column(_enum(State, "invoice_state", 12))
    source: Mapped[Source] = mapped_column(_enum(Source, "invoice_source", 10))
    channel: Mapped[Channel] = mapped_column(
        _enum(Channel, "invoice_channel", 8), default=Channel.ONLINE
    )

    # What the document says (FA(3) fields P_2, RodzajFaktury, P_1, Podmiot1/2, KodWaluty, P_15)
    number: Mapped[str] = mapped_column(sa.String(256))
    invoice_type: Mapped[str] = mapped_column(sa.String(10))
    issue_date: Mapped[date]
    seller_nip: Mapped[str] = mapped_column(sa.String(10))
    seller_name: Mapped[str] = mapped_column(sa.String(512), default="")
    buyer_identifier: Mapped[str | None] = mapped_column(sa.String(50))
    buyer_name: Mapped[str] = mapped_column(sa.String(512), default="")
    currency: Mapped[str] = mapped_column(sa.String(3))
    gross_amount: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))

    xml: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(44))  # base64, as KSeF writes invoiceHash
    size: Mapped[int]

    # What KSeF says
    ksef_number: Mapped[str | None] = mapped_column(sa.String(40))
    acquired_at: Mapped[datetime | None]
    session_reference: Mapped[str | None] = mapped_column(sa.String(40))
    ksef_reference: Mapped[str | None] = mapped_column(sa.String(40))
    upo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    error_code: Mapped[int | None]
    error_description: Mapped[str] = mapped_column(sa.String(2000), default="")

    # When its counterparty and lines were taken into the client's master data
    master_data_at: Mapped[datetime | None]

    # One operation of the bureau's package is reserved for this invoice while it is sent
    reserved: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # While sending: the job's claim (its token and until when it holds) and the moment the
    # invoice was handed to KSeF; a claim that lapses is taken back, the unhanded at once.
    claim: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None]
    handed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class CostSync(Base):
    """Where the incremental download of a client's cost invoices stands."""

    __tablename__ = "cost_sync"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), primary_key=True
    )
    # Permanent-storage date up to which every cost invoice is known (KSeF's high-water mark)
    synced_until: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")
    downloaded: Mapped[int] = mapped_column(default=0)


class InvoiceDigest(Base):
    """How far the daily invoice e-mail of a bureau or a client has told."""

    __tablename__ = "invoice_digest"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)  # bureau:<id> | client:<id>
    last_invoice_id: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime]
