"""The daily e-mail about invoices: what arrived and what needs attention since the last one.

The bureau's people hear of the cost invoices downloaded for every client and of the sales
invoices that failed or that KSeF rejected; a client's people hear of their own cost invoices.
Each recipient group has a mark (``invoice_digest``): the last invoice id told about and when,
moved in the same transaction that writes the e-mails, so a job that runs twice tells once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel.numbers import format_currency
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integration.accounts.models import (
    BUREAU_ROLES,
    CLIENT_ROLES,
    Bureau,
    ClientCompany,
)
from integration.accounts.service import languages_of, member_emails
from integration.core.appctx import current_settings
from integration.core.clock import WARSAW, now
from integration.core.db import transaction
from integration.core.messages import Translator, translator
from integration.invoices.models import Direction, Invoice, InvoiceDigest, State
from integration.mail import MailBackend, Message, backend_for, send

ATTENTION = (State.FAILED, State.REJECTED)
STATE_NAMES = {"failed": "Not sent", "rejected": "Rejected"}  # as the pages label them


def format_amount(amount: Decimal, currency: str, language: str) -> str:
    """An amount as people of the language write it (``1 518,44 zł``)."""
    return format_currency(amount, currency, locale=language)


def _recipients(
    s: Session, *, bureau_id: int | None = None, client_id: int | None = None
) -> list[str]:
    roles = BUREAU_ROLES if bureau_id is not None else CLIENT_ROLES
    return member_emails(s, roles, bureau_id=bureau_id, client_id=client_id)


@dataclass(frozen=True)
class _Round:
    """One run of the digest: its transaction, mail backend, time, link base and last id."""

    s: Session
    backend: MailBackend
    at: datetime
    link: str
    newest: int

    def deliver(
        self, key: str, recipients: list[str], compose: Callable[[Translator], tuple[str, str]]
    ) -> None:
        """One message per recipient, in the language each chose: ``compose`` gives its
        subject and body."""
        languages = languages_of(self.s, recipients)
        for email in recipients:
            subject, body = compose(translator(languages.get(email)))
            message = Message(
                key=f"{key}:{email}"[:120], recipient=email, subject=subject, body=body
            )
            send(self.s, self.backend, message)


def _mark(run: _Round, key: str) -> InvoiceDigest:
    mark = run.s.get(InvoiceDigest, key)
    if mark is None:  # the first digest tells of what comes from now on
        mark = InvoiceDigest(key=key, last_invoice_id=run.newest, sent_at=run.at)
        run.s.add(mark)
        run.s.flush()
    return mark


def _bureau(run: _Round, bureau: Bureau) -> bool:
    s, at, newest = run.s, run.at, run.newest
    mark = _mark(run, f"bureau:{bureau.id}")
    arrived: Counter[str] = Counter()
    for name, count in s.execute(
        select(ClientCompany.name, func.count())
        .join(Invoice, Invoice.client_id == ClientCompany.id)
        .where(
            ClientCompany.bureau_id == bureau.id,
            Invoice.direction == Direction.COST,
            Invoice.id > mark.last_invoice_id,
            Invoice.id <= newest,
        )
        .group_by(ClientCompany.name)
    ):
        arrived[name] = count
    trouble = s.execute(
        select(ClientCompany.name, Invoice.number, Invoice.state, Invoice.error_description)
        .join(Invoice, Invoice.client_id == ClientCompany.id)
        .where(
            ClientCompany.bureau_id == bureau.id,
            Invoice.state.in_(ATTENTION),
            Invoice.updated_at > mark.sent_at,
        )
        .order_by(ClientCompany.name, Invoice.number)
    ).all()
    told = bool(arrived or trouble)
    if told:
        since = mark.sent_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M")

        def compose(tr: Translator) -> tuple[str, str]:
            lines = [
                tr.gettext(
                    "Invoices of the clients of %(bureau)s since %(moment)s.",
                    bureau=bureau.name,
                    moment=since,
                ),
                "",
            ]
            if arrived:
                lines.append(
                    tr.gettext("New cost invoices: %(count)d", count=sum(arrived.values()))
                )
                lines += [f"  {name}: {count}" for name, count in sorted(arrived.items())]
                lines.append("")
            if trouble:
                lines.append(
                    tr.gettext("Sales invoices needing attention: %(count)d", count=len(trouble))
                )
                lines += [
                    f"  {name}: {number} — {tr.gettext(STATE_NAMES[State(state).value])}"
                    + (f" ({tr.gettext(why)[:120]})" if why else "")
                    for name, number, state, why in trouble[:50]
                ]
                lines.append("")
            lines.append(
                tr.gettext(
                    "See them all: %(link)s", link=f"{run.link}/bureaus/{bureau.id}/invoices"
                )
            )
            subject = tr.gettext(
                "Delegat: %(new)d new cost invoice(s), %(attention)d to look at",
                new=sum(arrived.values()),
                attention=len(trouble),
            )
            return subject, "\n".join(lines)

        run.deliver(
            f"digest:bureau:{bureau.id}:{at:%Y%m%d%H}", _recipients(s, bureau_id=bureau.id), compose
        )
    mark.last_invoice_id, mark.sent_at = max(newest, mark.last_invoice_id), at
    return told


def _client(run: _Round, client: ClientCompany) -> bool:
    s, at, newest = run.s, run.at, run.newest
    mark = _mark(run, f"client:{client.id}")
    arrived = s.execute(
        select(Invoice.seller_name, Invoice.number, Invoice.gross_amount, Invoice.currency)
        .where(
            Invoice.client_id == client.id,
            Invoice.direction == Direction.COST,
            Invoice.id > mark.last_invoice_id,
            Invoice.id <= newest,
        )
        .order_by(Invoice.id)
    ).all()
    recipients = _recipients(s, client_id=client.id)
    if arrived and recipients:

        def compose(tr: Translator) -> tuple[str, str]:
            lines = [
                tr.gettext(
                    "New cost invoices of %(client)s in KSeF: %(count)d",
                    client=client.name,
                    count=len(arrived),
                ),
                "",
            ]
            lines += [
                f"  {seller} — {number}: {format_amount(gross, currency, tr.language)}"
                for seller, number, gross, currency in arrived[:50]
            ]
            link = f"{run.link}/clients/{client.id}/invoices?direction=cost"
            lines += ["", tr.gettext("See them: %(link)s", link=link)]
            subject = tr.gettext(
                "Delegat: %(count)d new cost invoice(s) of %(client)s",
                count=len(arrived),
                client=client.name,
            )
            return subject, "\n".join(lines)

        run.deliver(f"digest:client:{client.id}:{at:%Y%m%d%H}", recipients, compose)
    mark.last_invoice_id, mark.sent_at = max(newest, mark.last_invoice_id), at
    return bool(arrived and recipients)


def send_digests() -> dict[str, int]:
    """Write the e-mails of every bureau and client that has something new to be told."""
    at = now()
    settings = current_settings()
    backend = backend_for(settings.mail_backend)
    link = settings.public_base_url.rstrip("/")
    told = {"bureaus": 0, "clients": 0}
    with transaction() as s:
        newest = s.scalar(select(func.max(Invoice.id))) or 0  # told up to here, and no further
        run = _Round(s, backend, at, link, newest)
        for bureau in s.scalars(select(Bureau).order_by(Bureau.id)).all():
            told["bureaus"] += _bureau(run, bureau)
        for client in s.scalars(select(ClientCompany).order_by(ClientCompany.id)).all():
            told["clients"] += _client(run, client)
    return told
