"""Outgoing e-mail through a pluggable backend; the default writes to the database outbox."""

from integration.mail.backends import MailBackend, Message, backend_for, deliverable_body, send

__all__ = ["MailBackend", "Message", "backend_for", "deliverable_body", "send"]
