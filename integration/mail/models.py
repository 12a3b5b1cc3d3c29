"""The outbox table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class MailOutbox(Base):
    """E-mails the service wrote. With the ``smtp`` backend each is also handed to the mail
    server by a job after the commit, and its delivery is recorded here."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the message is about; unique so that a retried job cannot send twice.
    message_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    # What may be read by anyone with the database: one-time links and codes blanked out
    body: Mapped[str] = mapped_column(sa.Text)
    # The whole message, encrypted with the credential key, when it carries secrets
    sealed_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # SMTP delivery: when the server took it, how many tries, the last refusal or fault, and
    # when the server refused it for good (a bounce: not tried again)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    bounced_at: Mapped[datetime | None]
