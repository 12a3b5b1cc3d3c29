"""Mail backends. ``outbox`` (default) records messages in the database; ``log`` logs them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.mail.models import MailOutbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    key: str
    recipient: str
    subject: str
    body: str


class MailBackend(Protocol):
    def deliver(self, session: Session, message: Message) -> bool:
        """Deliver ``message``; False when a message with the same key was sent before."""


class OutboxBackend:
    """Writes the message to ``mail_outbox`` in the caller's transaction."""

    def deliver(self, session: Session, message: Message) -> bool:
        exists = session.scalar(select(MailOutbox.id).where(MailOutbox.message_key == message.key))
        if exists is not None:
            return False
        session.add(
            MailOutbox(
                message_key=message.key,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
            )
        )
        session.flush()
        return True


class LogBackend:
    """Logs recipient and subject only: bodies may carry one-time links."""

    def deliver(self, session: Session, message: Message) -> bool:
        log.info("mail %s to %s: %s", message.key, message.recipient, message.subject)
        return True


_BACKENDS: dict[str, type[OutboxBackend] | type[LogBackend]] = {
    "outbox": OutboxBackend,
    "log": LogBackend,
}


def backend_for(name: str) -> MailBackend:
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown mail backend {name!r}; use one of {sorted(_BACKENDS)}") from None


def send(session: Session, backend: MailBackend, message: Message) -> bool:
    return backend.deliver(session, message)
