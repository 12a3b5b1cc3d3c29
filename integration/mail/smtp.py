"""Delivery of the outbox to a mail server (the ``smtp`` backend).

The message is written to ``mail_outbox`` in the caller's transaction, as with the outbox
backend; a job enqueued after the commit hands it to the server (STARTTLS unless switched off,
then LOGIN when a user is set) and records the delivery. A fault of the line or a 4xx answer
is tried again with a growing pause (up to ``MAX_ATTEMPTS``); a 5xx refusal of the recipient or
the message is a bounce: logged and recorded, never tried again. A sweep finds messages whose
job was lost. A crash after the server took a message and before it was recorded sends it once
more (at least once); its ``Message-ID`` is fixed by its key, so mail software can tell.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.core.appctx import current_settings
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.settings import Settings
from integration.jobs import enqueue_after_commit, job_id
from integration.mail.backends import Message, OutboxBackend, deliverable_body
from integration.mail.models import MailOutbox

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
PAUSES = (30, 60, 300, 900, 1800, 3600, 7200)  # seconds before the 2nd, 3rd, ... try
SWEEP_AFTER = timedelta(minutes=2)


class SmtpBackend(OutboxBackend):
    """The outbox row, and its delivery to the mail server after the commit."""

    def deliver(self, session: Session, message: Message) -> bool:
        if not super().deliver(session, message):
            return False
        row_id = session.scalar(select(MailOutbox.id).where(MailOutbox.message_key == message.key))
        _enqueue(session, int(row_id or 0), attempt=0)
        return True


def _enqueue(session: Session, row_id: int, *, attempt: int, delay: int = 0) -> None:
    enqueue_after_commit(
        session,
        "integration.mail.jobs.deliver_mail",
        job_id=job_id("mail-delivery", row_id, attempt),
        queue="mail",
        delay=timedelta(seconds=delay) if delay else None,
        message_id=row_id,
        attempt=attempt,
    )


def _email(row: MailOutbox, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_sender
    email["To"] = row.recipient
    email["Subject"] = row.subject
    domain = settings.mail_sender.rsplit("@", 1)[-1].rstrip(">") or "delegat.local"
    digest = hashlib.sha256(row.message_key.encode()).hexdigest()[:20]
    email["Message-ID"] = f"<delegat.{row.id}.{digest}@{domain}>"  # the same on every try
    email.set_content(deliverable_body(row))
    return email


def _hand_over(email: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as server:
        server.ehlo()
        if settings.smtp_starttls:
            context = ssl.create_default_context(cafile=settings.smtp_ca_file)
            server.starttls(context=context)
            server.ehlo()
        if settings.smtp_username:
            server.login(settings.smtp_username, settings.smtp_password or "")
        server.send_message(email)


def _permanent(exc: Exception) -> bool:
    """A refusal that trying again will not change (5xx), as opposed to a fault of the line."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def deliver(message_id: int, attempt: int = 0) -> str:
    """Hand one message to the mail server and record how it went."""
    settings = current_settings()
    with transaction() as s:
        row = s.get(MailOutbox, message_id)
        if row is None or row.sent_at is not None or row.bounced_at is not None:
            return "nothing to do"
        email = _email(row, settings)
    try:
        _hand_over(email, settings)
    except (smtplib.SMTPException, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        with transaction() as s:
            row = s.get(MailOutbox, message_id)
            assert row is not None
            row.attempts += 1
            row.last_error = reason
            if _permanent(exc):
                row.bounced_at = now()
                log.warning("mail %s to %s bounced: %s", row.id, row.recipient, reason)
                return "bounced"
            if row.attempts >= MAX_ATTEMPTS:
                log.exception("mail %s to %s not delivered after %s tries", row.id,
                              row.recipient, row.attempts)  # fmt: skip
                return "given up"
            pause = PAUSES[min(row.attempts - 1, len(PAUSES) - 1)]
            _enqueue(s, message_id, attempt=attempt + 1, delay=pause)
        log.info("mail %s not delivered yet (%s); trying again in %s s", message_id, reason, pause)
        return "later"
    with transaction() as s:
        row = s.get(MailOutbox, message_id)
        assert row is not None
        row.sent_at, row.attempts, row.last_error = now(), row.attempts + 1, ""
    return "sent"


def sweep() -> int:
    """Enqueue again what the smtp backend wrote but no job delivered (a lost job)."""
    if current_settings().mail_backend != "smtp":
        return 0
    with transaction() as s:
        stale = s.scalars(
            select(MailOutbox.id).where(
                MailOutbox.sent_at.is_(None),
                MailOutbox.bounced_at.is_(None),
                MailOutbox.attempts < MAX_ATTEMPTS,
                MailOutbox.created_at < now() - SWEEP_AFTER,
            )
        ).all()
        for row_id in stale:
            _enqueue(s, row_id, attempt=100)  # its own job id, beside any still pending
    return len(stale)
