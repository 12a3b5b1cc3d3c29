"""Mail jobs: they carry the outbox row's id, never the message."""

from __future__ import annotations

from integration.mail import smtp


def deliver_mail(*, message_id: int, attempt: int = 0) -> str:
    """Hand one outbox message to the mail server (the smtp backend)."""
    return smtp.deliver(message_id, attempt)


def sweep_mail() -> int:
    """Deliver what the smtp backend wrote but no job delivered."""
    return smtp.sweep()
