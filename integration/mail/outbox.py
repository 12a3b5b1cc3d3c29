"""Reading the outbox back: the demo's and development's mail page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from integration.core.db import transaction
from integration.mail.backends import deliverable_body
from integration.mail.models import MailOutbox


@dataclass(frozen=True)
class Letter:
    recipient: str
    subject: str
    body: str
    created_at: datetime


def latest(limit: int = 100) -> list[Letter]:
    """The newest messages first, as they are to reach their recipients (links included)."""
    with transaction() as s:
        rows = s.scalars(
            select(MailOutbox).order_by(MailOutbox.id.desc()).limit(max(1, min(limit, 500)))
        ).all()
        return [Letter(r.recipient, r.subject, deliverable_body(r), r.created_at) for r in rows]
