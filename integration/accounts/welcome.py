"""The welcome e-mail: the first real job, sent once even when the job is retried."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from integration.accounts.models import UserAccount
from integration.accounts.secrets import new_token, token_digest
from integration.core.appctx import current_settings
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.messages import translator
from integration.jobs import enqueue_after_commit, job_id
from integration.mail import Message, backend_for, send

log = logging.getLogger(__name__)
# A welcome e-mail not sent this long after the account was made is re-enqueued.
RECONCILE_AFTER = timedelta(minutes=5)


def deliver(user_id: int) -> bool:
    """Claim the user's welcome, mint a setup token and hand the message to the backend.

    The claim, the token and the outbox row commit together: a crash before the commit
    leaves everything for the retry, a crash after it leaves nothing to do.
    """
    settings = current_settings()
    with transaction() as s:
        stamp = now()
        claimed = s.execute(  # type: ignore[attr-defined]
            update(UserAccount)
            .where(UserAccount.id == user_id, UserAccount.welcome_sent_at.is_(None))
            .values(welcome_sent_at=stamp)
        ).rowcount
        if not claimed:
            return False
        user = s.get(UserAccount, user_id)
        assert user is not None
        tr = translator(user.language)
        body = [
            tr.gettext("Hello %(name)s,", name=user.person.first_name),
            "",
            tr.gettext("an account was created for you in Delegat."),
        ]
        secrets: tuple[str, ...] = ()
        if user.password_hash is None:
            token = new_token()
            user.setup_token_hash = token_digest(token)
            user.setup_token_expires_at = stamp + timedelta(hours=settings.password_setup_ttl_hours)
            secrets = (token,)
            body += [
                "",
                tr.gettext(
                    "Set your password here (valid %(hours)d h):",
                    hours=settings.password_setup_ttl_hours,
                ),
                setup_link(settings.public_base_url, token),
                "",
                tr.gettext(
                    "If the page asks for the code from this e-mail, it is: %(code)s", code=token
                ),
            ]
        body += ["", tr.gettext("Your login is %(email)s.", email=user.email)]
        send(
            s,
            backend_for(settings.mail_backend),
            Message(
                key=f"welcome:{user.id}",
                recipient=user.email,
                subject=tr.gettext("Your Delegat account"),
                body="\n".join(body),
                secrets=secrets,
            ),
        )
    log.info("welcome e-mail sent to user %s", user_id)
    return True


def setup_link(base_url: str, token: str) -> str:
    """The link to the password form. The token travels after ``#``: browsers never send
    that part to a server, so it lands in no access log, proxy log or Referer."""
    return f"{base_url}/setup-password#{token}"


def reconcile() -> int:
    cutoff = now() - RECONCILE_AFTER
    with transaction() as s:
        ids = s.scalars(
            select(UserAccount.id).where(
                UserAccount.welcome_sent_at.is_(None),
                UserAccount.created_at < cutoff,
                UserAccount.is_active.is_(True),
            )
        ).all()
        for uid in ids:
            enqueue_after_commit(
                s,
                "integration.accounts.jobs.send_welcome_email",
                job_id=job_id("welcome-email", uid),
                queue="mail",
                user_id=uid,
            )
    return len(ids)
