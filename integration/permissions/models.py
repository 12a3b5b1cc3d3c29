"""A grant a client company gives in KSeF: to a person (PESEL) or an entity (NIP)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class GrantState(StrEnum):
    """``pending`` until KSeF confirms, ``active``, ``revoking`` until KSeF confirms,
    ``revoked``; ``failed`` when KSeF refused (the reason is kept)."""

    PENDING = "pending"
    ACTIVE = "active"
    REVOKING = "revoking"
    REVOKED = "revoked"
    FAILED = "failed"


class Grant(Base):
    __tablename__ = "ksef_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(10))  # person | entity
    grantee_type: Mapped[str] = mapped_column(sa.String(10))  # Pesel | Nip
    grantee_value: Mapped[str] = mapped_column(sa.String(20))
    grantee_name: Mapped[str] = mapped_column(sa.String(200), default="")
    rights: Mapped[str] = mapped_column(sa.String(100))  # space-separated KSeF rights
    can_delegate: Mapped[bool] = mapped_column(default=False)
    state: Mapped[GrantState] = mapped_column(
        sa.Enum(
            GrantState,
            name="grant_state",
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        )
    )
    source: Mapped[str] = mapped_column(sa.String(10), default="delegat")  # delegat | ksef
    operation_reference: Mapped[str | None] = mapped_column(sa.String(40))
    ksef_ids: Mapped[str] = mapped_column(sa.String(400), default="")  # one per right
    error: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)

    @property
    def right_list(self) -> list[str]:
        return self.rights.split()


class GrantPull(Base):
    """How the last reading of a client's grants from KSeF went.

    When KSeF refused it (403: the credentials may not read permissions), the periodic
    reading stops (``stopped``) until the client's credentials change (``credentials_mark``
    is what they were) or a person asks for a reading again.
    """

    __tablename__ = "grant_pull"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), primary_key=True
    )
    last_run_at: Mapped[datetime]
    last_ok_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(sa.String(1000), default="")
    stopped: Mapped[bool] = mapped_column(default=False)
    credentials_mark: Mapped[str] = mapped_column(sa.String(100), default="")
