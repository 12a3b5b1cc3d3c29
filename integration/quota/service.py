"""Reservations, debits and top-ups of a bureau's KSeF package.

Work that will cost an operation (an invoice claimed for sending, a cost invoice about to be
downloaded) first reserves it, under the account's row lock: at most what the balance does not
already promise. What cannot be reserved waits. A debit is written in the caller's
transaction, next to the state change it pays for, and consumes the reservation: the ledger
row with its unique operation key goes in first, inside a savepoint, and only if that insert
wins is the balance decremented by an atomic UPDATE. A retried job, a second worker or a
replay after a crash hits the unique key and debits nothing. Work that ends unpaid (rejected,
failed, put back) releases its reservation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from hashlib import sha256

from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.accounts.actor import Actor
from integration.accounts.models import Bureau, Role
from integration.accounts.service import languages_of, member_emails
from integration.audit import service as audit
from integration.core.appctx import current_settings
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict, Forbidden, NotFound, Text, ValidationFailed
from integration.core.messages import translator
from integration.jobs import enqueue_after_commit, job_id
from integration.mail import Message, backend_for, send
from integration.quota.models import QuotaAccount, QuotaEntry

MAX_TOP_UP = 10_000_000
LOW_SHARE, LOW_FLOOR = 10, 20  # warn at 10 % of the last purchase, and never below 20 left


class QuotaExhausted(Conflict):
    slug, title = "quota-exhausted", "The bureau's KSeF package is used up"


def lock(s: Session, bureau_id: int) -> None:
    """Lock the bureau's package for this transaction (before the invoices it pays for)."""
    _account(s, bureau_id)


def _account(s: Session, bureau_id: int) -> None:
    """Make sure the bureau's account row exists and is locked by this transaction.

    The UPDATE comes first: it takes the row lock on PostgreSQL and makes SQLite's driver open
    the transaction, so that the savepoints below are always nested inside one.
    """
    touched = s.execute(
        update(QuotaAccount).where(QuotaAccount.bureau_id == bureau_id).values(updated_at=now())
    )
    assert isinstance(touched, CursorResult)
    if touched.rowcount:
        return
    try:
        with s.begin_nested():
            s.add(QuotaAccount(bureau_id=bureau_id, balance=0, updated_at=now()))
            s.flush()
    except IntegrityError:  # another transaction created it meanwhile
        pass


def available(s: Session, bureau_id: int) -> int:
    """Operations the package can still promise: the balance less what is reserved."""
    row = s.execute(
        select(QuotaAccount.balance, QuotaAccount.reserved).where(
            QuotaAccount.bureau_id == bureau_id
        )
    ).first()
    return row[0] - row[1] if row is not None else 0


def reserve(s: Session, bureau_id: int, wanted: int) -> int:
    """Set aside up to ``wanted`` operations in the caller's transaction; how many were."""
    if wanted <= 0:
        return 0
    _account(s, bureau_id)  # the row lock: concurrent reservations queue up here
    granted = max(0, min(wanted, available(s, bureau_id)))
    if granted:
        s.execute(
            update(QuotaAccount)
            .where(QuotaAccount.bureau_id == bureau_id)
            .values(reserved=QuotaAccount.reserved + granted),
            execution_options={"synchronize_session": False},
        )
    return granted


def release(s: Session, bureau_id: int, count: int) -> None:
    """Give back ``count`` reserved operations (work that ended unpaid)."""
    if count <= 0:
        return
    s.execute(
        update(QuotaAccount)
        .where(QuotaAccount.bureau_id == bureau_id)
        .values(
            reserved=case((QuotaAccount.reserved > count, QuotaAccount.reserved - count), else_=0),
            updated_at=now(),
        ),
        execution_options={"synchronize_session": False},
    )


def require_available(s: Session, bureau_id: int, needed: int = 1) -> None:
    """Refuse new KSeF work when the package cannot pay for it."""
    left = available(s, bureau_id)
    if left < needed:
        raise QuotaExhausted(
            f"the bureau's KSeF package has {left} operation(s) left and this needs {needed}; "
            "top up the package to continue",
            balance=left,
        )


def _move(
    s: Session,
    *,
    bureau_id: int,
    client_id: int | None,
    operation_key: str,
    kind: str,
    amount: int,
    note: str = "",
) -> bool:
    _account(s, bureau_id)
    try:
        with s.begin_nested():
            entry = QuotaEntry(
                bureau_id=bureau_id,
                client_id=client_id,
                operation_key=operation_key,
                kind=kind,
                amount=amount,
                balance_after=0,
                note=note,
                created_at=now(),
            )
            s.add(entry)
            s.flush()
    except IntegrityError:
        return False  # this operation was paid for already
    s.execute(
        update(QuotaAccount)
        .where(QuotaAccount.bureau_id == bureau_id)
        .values(balance=QuotaAccount.balance + amount, updated_at=now()),
        execution_options={"synchronize_session": False},
    )
    entry.balance_after = int(
        s.scalar(select(QuotaAccount.balance).where(QuotaAccount.bureau_id == bureau_id)) or 0
    )
    return True


def debit(
    s: Session,
    *,
    bureau_id: int,
    client_id: int,
    operation_key: str,
    kind: str,
    reserved: bool = False,
) -> bool:
    """Pay one KSeF operation once; True if this call paid it, False if it was paid before.

    ``reserved``: the operation's reservation is consumed (or, if it was paid before,
    released). An operation that happened in KSeF is recorded even without one.
    """
    paid = _move(
        s,
        bureau_id=bureau_id,
        client_id=client_id,
        operation_key=operation_key,
        kind=kind,
        amount=-1,
    )
    if reserved:
        release(s, bureau_id, 1)
    return paid


def top_up(actor: Actor, bureau_id: int, *, amount: int, reference: str) -> int:
    """Add a purchased package (platform admin); the reference makes a repeat harmless."""
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin tops up KSeF packages")
    if not 0 < amount <= MAX_TOP_UP:
        raise ValidationFailed.single("amount", Text("between 1 and %(most)d", most=MAX_TOP_UP))
    reference = reference.strip()
    if not reference or len(reference) > 80:
        raise ValidationFailed.single("reference", "the purchase reference, 1 to 80 characters")
    with transaction() as s:
        if s.get(Bureau, bureau_id) is None:
            raise NotFound("no such bureau")
        added = _move(
            s,
            bureau_id=bureau_id,
            client_id=None,
            operation_key=f"top-up:{bureau_id}:{reference}",
            kind="top_up",
            amount=amount,
            note=reference,
        )
        if not added:
            raise Conflict(
                Text(
                    "the purchase %(reference)s was already added to this package",
                    reference=repr(reference),
                )
            )
        s.execute(
            update(QuotaAccount)
            .where(QuotaAccount.bureau_id == bureau_id)
            .values(low_warned_at=None)
        )
        enqueue_after_commit(  # what waited for the package goes now
            s,
            "integration.invoices.jobs.resume_sending",
            job_id=job_id("resume-sending", bureau_id, sha256(reference.encode()).hexdigest()[:16]),
            queue="ksef",
            bureau_id=bureau_id,
        )
        audit.record(
            s,
            actor,
            "quota.top_up",
            bureau_id=bureau_id,
            object_type="package",
            object_id=reference,
            detail=f"+{amount} operations ({reference})",
        )
        return available(s, bureau_id)


def low_mark(s: Session, bureau_id: int) -> int:
    """The balance at which the package counts as running low."""
    last = s.scalar(
        select(QuotaEntry.amount)
        .where(QuotaEntry.bureau_id == bureau_id, QuotaEntry.kind == "top_up")
        .order_by(QuotaEntry.id.desc())
        .limit(1)
    )
    return max(LOW_FLOOR, -(-(last or 0) * LOW_SHARE // 100))


def warn_low_balances() -> int:
    """Tell each bureau's admins once (until the next top-up) that the package runs low."""
    warned = 0
    at = now()
    backend = backend_for(current_settings().mail_backend)
    with transaction() as s:
        for account in s.scalars(select(QuotaAccount).where(QuotaAccount.low_warned_at.is_(None))):
            mark = low_mark(s, account.bureau_id)
            if account.balance > mark:
                continue
            admins = member_emails(s, {Role.BUREAU_ADMIN}, bureau_id=account.bureau_id)
            languages = languages_of(s, admins)
            left = max(account.balance, 0)
            for email in admins:
                tr = translator(languages.get(email))
                send(
                    s,
                    backend,
                    Message(
                        key=f"quota-low:{account.bureau_id}:{at.isoformat()}:{email}",
                        recipient=email,
                        subject=tr.gettext("Your KSeF package is running low"),
                        body=tr.ngettext(
                            "The bureau's prepaid KSeF package has %(num)d operation left.",
                            "The bureau's prepaid KSeF package has %(num)d operations left.",
                            left,
                        )
                        + " "
                        + tr.gettext(
                            "When it is used up, invoices wait for a top-up and cost invoices "
                            "are no longer downloaded. Buy a top-up to continue without a break."
                        ),
                    ),
                )
            account.low_warned_at = at
            warned += 1
    return warned


FORECAST_DAYS = 30


@dataclass(frozen=True)
class Statement:
    balance: int
    entries: Sequence[QuotaEntry]
    low_mark: int = LOW_FLOOR
    # Operations used in the last FORECAST_DAYS days
    used_recently: int = 0

    @property
    def low(self) -> bool:
        return self.balance <= self.low_mark

    @property
    def daily_use(self) -> float:
        return self.used_recently / FORECAST_DAYS

    @property
    def days_left(self) -> int | None:
        """At the last 30 days' pace, how many days the package lasts (None: nothing used)."""
        if self.used_recently <= 0:
            return None
        return int(max(self.balance, 0) / self.daily_use)


def statement(actor: Actor, bureau_id: int, *, limit: int = 100) -> Statement:
    """Balance and the latest movements, for the bureau's people."""
    if not actor.sees_bureau(bureau_id):
        raise NotFound("no such bureau")
    with transaction() as s:
        entries = s.scalars(
            select(QuotaEntry)
            .where(QuotaEntry.bureau_id == bureau_id)
            .order_by(QuotaEntry.id.desc())
            .limit(max(1, min(limit, 1000)))
        ).all()
        used = s.scalar(
            select(func.coalesce(func.sum(-QuotaEntry.amount), 0)).where(
                QuotaEntry.bureau_id == bureau_id,
                QuotaEntry.kind.in_(("send", "download")),
                QuotaEntry.created_at >= now() - timedelta(days=FORECAST_DAYS),
            )
        )
        return Statement(available(s, bureau_id), entries, low_mark(s, bureau_id), int(used or 0))
