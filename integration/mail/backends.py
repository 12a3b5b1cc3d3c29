"""Mail backends. ``outbox`` (default) records messages in the database; ``log`` logs them;
``smtp`` records them and hands each to a mail server after the commit (``smtp.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.core import secretbox
from integration.mail.models import MailOutbox

log = logging.getLogger(__name__)


REDACTED = "[…]"


@dataclass(frozen=True)
class Message:
    key: str
    recipient: str
    subject: str
    body: str
    # Parts of the body that open something (one-time links and codes): never kept in clear
    secrets: tuple[str, ...] = ()

    @property
    def redacted_body(self) -> str:
        body = self.body
        for secret in self.secrets:
            body = body.replace(secret, REDACTED)
        return body


class MailBackend(Protocol):
    def deliver(self, session: Session, message: Message) -> bool:
        """Deliver ``message``; False when a message with the same key was sent before."""


class OutboxBackend:
    """Writes the message to ``mail_outbox`` in the caller's transaction.

    A message with secrets is kept readable with them blanked out; the whole message is
    kept encrypted (``sealed_body``) for its delivery, see :func:`deliverable_body`.
    """

    def deliver(self, session: Session, message: Message) -> bool:
        exists = session.scalar(select(MailOutbox.id).where(MailOutbox.message_key == message.key))
        if exists is not None:
            return False
        session.add(
            MailOutbox(
                message_key=message.key,
                recipient=message.recipient,
                subject=message.subject,
                body=message.redacted_body,
                sealed_body=secretbox.seal(message.body.encode()) if message.secrets else None,
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


def deliverable_body(row: MailOutbox) -> str:
    """The message as it is to reach its recipient, secrets included."""
    if row.sealed_body is None:
        return row.body
    return secretbox.unseal(row.sealed_body).decode()


def backend_for(name: str) -> MailBackend:
    if name == "smtp":
        from integration.mail.smtp import SmtpBackend  # noqa: PLC0415 (it needs the jobs)

        return SmtpBackend()
    try:
        return _BACKENDS[name]()
    except KeyError:
        known = sorted([*_BACKENDS, "smtp"])
        raise ValueError(f"unknown mail backend {name!r}; use one of {known}") from None


def send(session: Session, backend: MailBackend, message: Message) -> bool:
    return backend.deliver(session, message)
