"""Stored credentials and signature requests awaiting their signed file."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class KsefCredential(Base):
    """One secret: a KSeF token or session tokens of a client context, or a bureau's seal."""

    __tablename__ = "ksef_credential"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "kind"),
        sa.UniqueConstraint("bureau_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # ksef_token | session | seal
    client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    bureau_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), index=True
    )
    context_nip: Mapped[str | None] = mapped_column(sa.String(10))
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    fingerprint: Mapped[str] = mapped_column(sa.String(16))
    rights: Mapped[str] = mapped_column(sa.String(200), default="")
    ksef_reference: Mapped[str | None] = mapped_column(sa.String(36))
    status: Mapped[str] = mapped_column(sa.String(12), default="active")
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None]


class SignatureRequest(Base):
    """An AuthTokenRequest handed out for signing; the upload must answer this challenge."""

    __tablename__ = "signature_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    challenge: Mapped[str] = mapped_column(sa.String(36), unique=True)
    issued_at: Mapped[datetime]
    subject_identifier_type: Mapped[str] = mapped_column(sa.String(30))
    created_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    used_at: Mapped[datetime | None]
