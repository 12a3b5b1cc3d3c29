"""Jobs of the accounts domain: a few lines each, taking ids, calling services."""

from __future__ import annotations

from integration.accounts import invitations, welcome


def send_welcome_email(*, user_id: int) -> bool:
    """Send the welcome e-mail with a password-setup link, at most once per user."""
    return welcome.deliver(user_id)


def send_invitation_email(*, membership_id: int) -> bool:
    """Send the invitation of a person who already has an account, at most once."""
    return invitations.deliver(membership_id)


def reconcile_welcome_emails() -> int:
    """Re-enqueue welcome e-mails whose job was lost (periodic)."""
    return welcome.reconcile()
