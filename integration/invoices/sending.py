"""Sending queued sales invoices through KSeF online sessions and collecting the outcome.

State machine (every step a conditional UPDATE, so two workers never both win):
``queued → sending`` (claimed by a job) ``→ processing`` (KSeF gave an invoice reference)
``→ accepted`` (KSeF number and UPO stored) or ``rejected`` (KSeF's code and reason).

A claim carries a token and a lease the job renews as it goes, and each invoice is marked
handed to KSeF (committed) just before it is sent. When a job dies, its lease lapses within a
minute: what it never handed goes back to the queue at once, what it handed is looked up in
the KSeF session (found: followed as processing; not found: queued again). Should a copy be
sent twice after all, KSeF answers the second with 440 "duplicate" naming the original KSeF
number, which is recorded as the acceptance it is. A job whose claim was taken back changes
nothing (every step checks the token). Jobs never sleep: a full rate budget, a 429 or an
unavailable KSeF puts the work back and re-enqueues it for later.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import ColumnElement, CursorResult, Update, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from integration.accounts.models import ClientCompany
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict, ValidationFailed
from integration.credentials.connection import budget_for
from integration.credentials.service import KsefRefused, access_token_for
from integration.invoices.documents import read_upo
from integration.invoices.models import Channel, Direction, Invoice, State
from integration.invoices.service import record
from integration.jobs import enqueue_after_commit, job_id
from integration.ksef.budget import RateBudget, group_of, patiently
from integration.ksef.client import InvoiceStatus
from integration.ksef.crypto import SessionKey, b64, rsa_oaep_encrypt, sha256_b64
from integration.ksef.errors import KsefError, KsefRateLimited, KsefUnavailable
from integration.ksef.runtime import current_client
from integration.quota import service as quota

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PER_SESSION = 100
MAX_BACKOFF = 300
STUCK_AFTER = timedelta(minutes=10)  # rows claimed before claims had leases
# A claim's lease: longer than one KSeF call (30 s read, 10 s connect), renewed before each.
LEASE = {Channel.ONLINE: timedelta(seconds=60), Channel.BATCH: timedelta(minutes=5)}
ACCEPTED, DUPLICATE = 200, 440
# What a person can do about a rejection, beside KSeF's own words.
NEXT_STEPS = {
    415: (
        " — KSeF takes an invoice with an attachment only in a batch session and only from "
        "a taxpayer who has notified e-Urząd Skarbowy that it issues such invoices; give that "
        "notice in e-US, then send the invoice again"
    ),
}


class _Later(Exception):
    """Stop here and continue in a later job after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


def _backoff(attempt: int) -> float:
    return float(min(2 ** min(attempt, 10), MAX_BACKOFF))


def _changed(s: Session, statement: Update) -> int:
    """Rows an UPDATE changed: the claim that makes a transition happen once."""
    result = s.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _context(client_id: int) -> tuple[str, int] | None:
    """The client's NIP (its KSeF context) and its bureau."""
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        return (client.nip, client.bureau_id) if client is not None else None


# ---------------------------------------------------------------------------- sending
WAITING = (
    "waiting for the bureau's KSeF package to be topped up (czeka na doładowanie pakietu); "
    "it is sent as soon as there is an operation for it"
)


class Claim(list[int]):
    """The invoices one job claimed (ids in order) and the token that shows they still are."""

    def __init__(self, ids: Sequence[int] = (), token: str = "", channel: Channel = Channel.ONLINE):
        super().__init__(ids)
        self.token = token
        self.channel = channel


def _claim(client_id: int, channel: Channel = Channel.ONLINE, limit: int | None = None) -> Claim:
    """Claim queued invoices for sending, each with an operation of the package reserved for
    it in the same transaction; what the package cannot pay for waits, saying so."""
    stamp = now()
    token = secrets.token_hex(16)
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        if client is None:
            return Claim()
        ids = s.scalars(
            select(Invoice.id)
            .where(
                Invoice.client_id == client_id,
                Invoice.direction == Direction.SALES,
                Invoice.state == State.QUEUED,
                Invoice.channel == channel,
            )
            .order_by(Invoice.id)
            .limit(limit or MAX_PER_SESSION)
        ).all()
        granted = quota.reserve(s, client.bureau_id, len(ids))
        won = []
        for invoice_id in ids[:granted]:
            claimed = _changed(
                s,
                update(Invoice)
                .where(Invoice.id == invoice_id, Invoice.state == State.QUEUED)
                .values(
                    state=State.SENDING,
                    reserved=True,
                    claim=token,
                    lease_until=stamp + LEASE[channel],
                    handed_at=None,
                    attempts=Invoice.attempts + 1,
                    error_description=case(
                        (Invoice.error_description == WAITING, ""),
                        else_=Invoice.error_description,
                    ),
                    updated_at=stamp,
                ),
            )
            if claimed:
                won.append(invoice_id)
        quota.release(s, client.bureau_id, granted - len(won))
        if ids[granted:]:
            s.execute(
                update(Invoice)
                .where(Invoice.id.in_(ids[granted:]), Invoice.state == State.QUEUED)
                .values(error_description=WAITING)
            )
    return Claim(won, token, channel)


def _hold(run: _Run, ids: Sequence[int], handing: int | None = None) -> bool:
    """Renew the run's claim on ``ids``, marking ``handing`` as handed to KSeF from now on.

    False when the claim was taken back (the job outlived its lease): then the job stops.
    """
    stamp = now()
    with transaction() as s:
        held = _changed(
            s,
            update(Invoice)
            .where(Invoice.id.in_(ids), Invoice.state == State.SENDING, Invoice.claim == run.claim)
            .values(lease_until=stamp + LEASE[run.channel]),
        )
        if handing is not None:
            held = _changed(
                s,
                update(Invoice)
                .where(
                    Invoice.id == handing,
                    Invoice.state == State.SENDING,
                    Invoice.claim == run.claim,
                )
                .values(handed_at=stamp),
            )
    if not held:
        log.warning("the claim of client %s's sending was taken back; stopping", run.client_id)
    return bool(held)


def resume(bureau_id: int) -> int:
    """After a top-up: start sending for every client of the bureau with invoices waiting."""
    with transaction() as s:
        waiting = s.scalars(
            select(Invoice.client_id)
            .join(ClientCompany, ClientCompany.id == Invoice.client_id)
            .where(ClientCompany.bureau_id == bureau_id, Invoice.state == State.QUEUED)
            .distinct()
        ).all()
        for client_id in waiting:
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.send_queued",
                job_id=job_id("invoice-send", client_id, "topped-up", int(now().timestamp())),
                queue="ksef",
                client_id=client_id,
            )
    return len(waiting)


# KSeF's (or the sending's) last word on an invoice, as the audit trail calls it
_ENDINGS = {
    State.REJECTED: ("invoice.rejected", "refused"),
    State.FAILED: ("invoice.failed", "failed"),
}


def _set_state(
    ids: Sequence[int],
    from_state: State,
    to_state: State,
    *,
    claim: str | None = None,
    only: Sequence[ColumnElement[bool]] = (),
    **values: object,
) -> None:
    """Move invoices on from ``from_state`` (and, given, under ``claim`` and ``only``). Going
    back to the queue or ending unpaid gives their package reservations back; an ending goes
    into the audit trail. Leaving ``sending`` ends the claim."""
    if not ids:
        return
    where = [Invoice.id.in_(ids), Invoice.state == from_state, *only]
    if claim is not None:
        where.append(Invoice.claim == claim)
    if from_state == State.SENDING and to_state != State.SENDING:
        values.setdefault("lease_until", None)
    with transaction() as s:
        returned = to_state in (State.QUEUED, State.REJECTED, State.FAILED)
        if returned:
            _release_reservations(s, where)
        statement = update(Invoice).where(*where).values(state=to_state, updated_at=now(), **values)
        ending = _ENDINGS.get(to_state)
        if ending is None:
            s.execute(statement)
            return
        moved = s.execute(statement.returning(Invoice.id)).scalars().all()
        for invoice in s.scalars(select(Invoice).where(Invoice.id.in_(moved))):
            client = s.get(ClientCompany, invoice.client_id)
            assert client is not None
            detail = f"{invoice.number}: {invoice.error_description}"
            record(s, None, client, ending[0], invoice, outcome=ending[1], detail=detail)


def _release_reservations(s: Session, where: Sequence[ColumnElement[bool]]) -> None:
    """Free the reservations of the invoices ``where`` selects, package by package.

    The package's row is locked before the invoices', the order a claim takes them in."""
    bureaus = s.execute(
        select(ClientCompany.bureau_id, func.count())
        .join(Invoice, Invoice.client_id == ClientCompany.id)
        .where(*where, Invoice.reserved.is_(True))
        .group_by(ClientCompany.bureau_id)
    ).all()
    for bureau_id, _ in bureaus:
        quota.lock(s, bureau_id)
    held = s.execute(
        select(Invoice.id, ClientCompany.bureau_id)
        .join(ClientCompany, ClientCompany.id == Invoice.client_id)
        .where(*where, Invoice.reserved.is_(True))
        .with_for_update(of=Invoice)
    ).all()
    if not held:
        return
    s.execute(update(Invoice).where(Invoice.id.in_([i for i, _ in held])).values(reserved=False))
    per_bureau: dict[int, int] = {}
    for _, bureau_id in held:
        per_bureau[bureau_id] = per_bureau.get(bureau_id, 0) + 1
    for bureau_id, count in per_bureau.items():
        quota.release(s, bureau_id, count)


def _reschedule_sending(
    client_id: int, first_id: int, attempt: int, delay: float, streak: int | None = None
) -> None:
    """Send again later. ``attempt`` names the job (it only grows); ``streak`` sets its wait."""
    with transaction() as s:
        enqueue_after_commit(
            s,
            "integration.invoices.jobs.send_queued",
            job_id=job_id("invoice-send", client_id, first_id, f"r{attempt + 1}"),
            queue="ksef",
            delay=timedelta(seconds=max(delay, 1.0)),
            client_id=client_id,
            attempt=attempt + 1,
            streak=(attempt if streak is None else streak) + 1,
        )


def _schedule_check(
    client_id: int, session_reference: str, attempt: int, delay: float, streak: int | None = None
) -> None:
    with transaction() as s:
        enqueue_after_commit(
            s,
            "integration.invoices.jobs.check_sent",
            job_id=job_id("invoice-check", client_id, session_reference, attempt),
            queue="ksef",
            delay=timedelta(seconds=max(delay, 1.0)),
            client_id=client_id,
            attempt=attempt,
            streak=attempt if streak is None else streak,
        )


@dataclass(frozen=True)
class _Run:
    """What one job works with: the client's context, its token and rate budget."""

    client_id: int
    bureau_id: int
    attempt: int  # names the job; it only grows
    streak: int  # KSeF faults in a row; it sets the back-off
    context: str
    access: str
    budget: RateBudget
    claim: str = ""  # the token of the invoices this run sends
    channel: Channel = Channel.ONLINE

    def take(self, method: str, path: str) -> None:
        wait = self.budget.take(self.context, group_of(method, path))
        if wait:
            raise _Later(wait)

    def call(self, method: str, path: str, call: Callable[[], T]) -> T:
        """Make a KSeF call within the budget, waiting out a fault of a moment."""
        return patiently(lambda: self.take(method, path), call)

    def after(self, progressed: bool) -> _Run:
        """The run whose back-off counts failures in a row: work done ends the streak."""
        return replace(self, streak=0) if progressed else self

    def later(self, exc: Exception, group: str) -> float:
        """Seconds to wait after ``exc`` (a full budget, a 429, an unavailable KSeF)."""
        if isinstance(exc, _Later) and exc.delay:
            return exc.delay
        if isinstance(exc, KsefRateLimited):
            log.warning("KSeF answered 429 for %s; waiting %s s", self.context, exc.retry_after)
            self.budget.penalise(self.context, group, exc.retry_after)
            return float(exc.retry_after)
        return _backoff(self.streak)


def _start(client_id: int, attempt: int, streak: int, *, settling: bool = False) -> _Run | str:
    """The run of a job, or why there is none: ``gone`` or the credentials' error text."""
    found = _context(client_id)
    if found is None:
        return "gone"
    context, bureau_id = found
    access = access_token_for(client_id, settling=settling)
    budget = budget_for(context, access)
    return _Run(client_id, bureau_id, attempt, streak, context, access, budget)


def _begin(client_id: int, claimed: Claim, attempt: int, streak: int) -> _Run | str:
    """The run that sends ``claimed``, or why not (then the rows are failed or queued again)."""
    token = claimed.token
    try:
        run = _start(client_id, attempt, streak)
    except (Conflict, KsefRefused) as exc:
        error = str(exc)[:2000]
        _set_state(claimed, State.SENDING, State.FAILED, claim=token, error_description=error)
        return "failed"
    except KsefError:
        run = "unavailable"
    if isinstance(run, str):
        _set_state(claimed, State.SENDING, State.QUEUED, claim=token)
        if run != "gone":
            _reschedule_sending(client_id, claimed[0], attempt, _backoff(streak), streak)
        return run
    return replace(run, claim=token, channel=claimed.channel)


def send_queued(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Send every queued sales invoice of the client in one online session."""
    claimed = _claim(client_id)
    if not claimed:
        return "idle"
    run = _begin(client_id, claimed, attempt, attempt if streak is None else streak)
    if isinstance(run, str):
        return run
    ksef = current_client()
    key = SessionKey.generate()
    try:
        run.take("POST", "/sessions/online")
        if not _hold(run, claimed):
            return "taken-back"
        public = ksef.public_key("SymmetricKeyEncryption")
        session_reference = ksef.open_online_session(
            access_token=run.access,
            encrypted_key=b64(rsa_oaep_encrypt(public.certificate, key.key)),
            iv=b64(key.iv),
        )
    except (_Later, KsefRateLimited, KsefUnavailable) as exc:
        _set_state(claimed, State.SENDING, State.QUEUED, claim=run.claim)
        _reschedule_sending(
            client_id, claimed[0], attempt, run.later(exc, "onlineSession"), run.streak
        )
        return "rescheduled"
    except KsefError as exc:  # refused outright: rights, form code, a closed context
        _set_state(
            claimed,
            State.SENDING,
            State.FAILED,
            claim=run.claim,
            error_code=exc.code,
            error_description=f"KSeF refused the session: {exc}"[:2000],
        )
        return "failed"
    _set_state(
        claimed,
        State.SENDING,
        State.SENDING,
        claim=run.claim,
        session_reference=session_reference,
    )
    outcome = _send_each(run, claimed, key, session_reference)
    _close(run, session_reference)
    _schedule_check(client_id, session_reference, 0, 1.0)
    return outcome


def _close(run: _Run, session_reference: str) -> None:
    """Close an online session, counted in the budget like its opening; later if it is full."""
    path = f"/sessions/online/{session_reference}/close"
    try:
        run.take("POST", path)
        current_client().close_online_session(session_reference, access_token=run.access)
    except (_Later, KsefRateLimited) as exc:
        with transaction() as s:
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.close_session",
                job_id=job_id("session-close", run.client_id, session_reference),
                queue="ksef",
                delay=timedelta(seconds=max(run.later(exc, "onlineSession"), 1.0)),
                client_id=run.client_id,
                session_reference=session_reference,
            )
    except KsefError as exc:  # KSeF closes idle sessions itself; nothing is lost
        log.info("closing session %s failed: %s", session_reference, exc)


def close_session(client_id: int, session_reference: str) -> str:
    """Close an online session whose closing waited for the rate budget."""
    try:
        run = _start(client_id, 0, 0, settling=True)
    except (Conflict, KsefError):
        return "left to KSeF"  # an idle session is closed by KSeF itself
    if isinstance(run, str):
        return run
    _close(run, session_reference)
    return "closed"


def _send_each(run: _Run, claimed: Claim, key: SessionKey, session_reference: str) -> str:
    ksef = current_client()
    path = f"/sessions/online/{session_reference}/invoices"
    for position, invoice_id in enumerate(claimed):
        with transaction() as s:
            xml, digest = s.execute(
                select(Invoice.xml, Invoice.sha256).where(Invoice.id == invoice_id)
            ).one()
        try:
            if not _hold(run, claimed[position:], handing=invoice_id):
                return "taken-back"
            encrypted = key.encrypt(xml)
            # A copy sent again in the session after a lost answer is answered 440 by KSeF,
            # naming the first: recorded as the acceptance it is.
            reference = run.call(
                "POST",
                path,
                partial(
                    ksef.send_invoice,
                    session_reference,
                    access_token=run.access,
                    invoice_hash=digest,
                    invoice_size=len(xml),
                    encrypted=encrypted,
                    encrypted_hash=sha256_b64(encrypted),
                ),
            )
        except (_Later, KsefRateLimited, KsefUnavailable) as exc:
            # Not known to have arrived: queued again. Had it arrived, KSeF answers the
            # next copy with 440 and the original KSeF number.
            rest = claimed[position:]
            _set_state(rest, State.SENDING, State.QUEUED, claim=run.claim, session_reference=None)
            after = run.after(progressed=position > 0)
            delay = after.later(exc, "invoiceSend")
            _reschedule_sending(run.client_id, rest[0], run.attempt, delay, after.streak)
            return "partly-sent"
        except KsefError as exc:
            _set_state(
                [invoice_id],
                State.SENDING,
                State.REJECTED,
                claim=run.claim,
                error_code=exc.code,
                error_description=str(exc)[:2000],
            )
            continue
        _set_state(
            [invoice_id],
            State.SENDING,
            State.PROCESSING,
            claim=run.claim,
            ksef_reference=reference,
        )
    return "sent"


def follow_up(client_id: int) -> bool:
    """Enqueue one more sending job if invoices were queued while this one ran."""
    with transaction() as s:
        first = s.scalar(  # names the job: a job that claimed this one has moved past it
            select(func.min(Invoice.id)).where(
                Invoice.client_id == client_id,
                Invoice.direction == Direction.SALES,
                Invoice.state == State.QUEUED,
            )
        )
        if first is None:
            return False
        enqueue_after_commit(
            s,
            "integration.invoices.jobs.send_queued",
            job_id=job_id("invoice-send", client_id, "after", first),
            queue="ksef",
            delay=timedelta(seconds=1),
            client_id=client_id,
        )
    return True


# ---------------------------------------------------------------------------- outcome
def _begin_check(client_id: int, marker: str, attempt: int, streak: int) -> _Run | str:
    """The run that asks KSeF about sent invoices, or why not (then a later check is due)."""
    try:
        run = _start(client_id, attempt, streak, settling=True)
    except (Conflict, KsefError):
        run = "unavailable"
    if run == "unavailable":
        _schedule_check(client_id, marker, attempt + 1, _backoff(streak + 3), streak + 1)
    return run


def check_sent(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Ask KSeF about the client's invoices in processing; store KSeF numbers and UPOs."""
    with transaction() as s:
        rows = s.execute(
            select(Invoice.id, Invoice.session_reference, Invoice.ksef_reference).where(
                Invoice.client_id == client_id,
                Invoice.state == State.PROCESSING,
                Invoice.channel == Channel.ONLINE,  # packages are followed in packages.py
            )
        ).all()
    if not rows:
        return "idle"
    marker = rows[0][1] or "none"
    run = _begin_check(client_id, marker, attempt, attempt if streak is None else streak)
    if isinstance(run, str):
        return run
    waiting = settled = False
    per_session = Counter(session for _, session, _ in rows)
    listed: dict[str, dict[str, InvoiceStatus]] = {}
    for invoice_id, session_reference, reference in rows:
        if session_reference is None or reference is None:  # not possible in processing
            continue
        try:
            if per_session[session_reference] >= LIST_FROM and session_reference not in listed:
                listed[session_reference] = _statuses(run, session_reference)
            if session_reference in listed:
                status = listed[session_reference].get(reference) or _NOT_YET
            else:
                status = run.call(
                    "GET",
                    f"/sessions/{session_reference}/invoices/{reference}",
                    partial(
                        current_client().invoice_status,
                        session_reference,
                        reference,
                        access_token=run.access,
                    ),
                )
            if status.pending:
                waiting = True
                continue
            settle_alone(run, invoice_id, status, session_reference)
            settled = True
        except (_Later, KsefRateLimited, KsefUnavailable) as exc:
            after = run.after(progressed=settled)
            delay = after.later(exc, "invoiceStatus")
            _schedule_check(client_id, marker, attempt + 1, delay, after.streak + 1)
            return "rescheduled"
        except SettleFailed:
            waiting = True  # that row is asked again later; the others go on
    if waiting:
        after = run.after(progressed=settled)
        _schedule_check(client_id, marker, attempt + 1, _backoff(after.streak), after.streak + 1)
        return "waiting"
    return "done"


# From this many invoices of one session in processing, their statuses are read from the
# session's list (a page of up to 1000) rather than asked for one by one.
LIST_FROM = 5
BUSY_WAIT = 5.0
_NOT_YET = InvoiceStatus("", 150, "not listed yet", (), {}, None, None)


def _statuses(run: _Run, session_reference: str) -> dict[str, InvoiceStatus]:
    """The status of every invoice KSeF lists in an online session, by its reference."""
    found: dict[str, InvoiceStatus] = {}
    continuation: str | None = None
    while True:
        page = run.call(
            "GET",
            f"/sessions/{session_reference}/invoices",
            partial(
                current_client().session_invoices,
                session_reference,
                access_token=run.access,
                continuation=continuation,
            ),
        )
        found.update({st.reference_number: st for st in page.invoices})
        continuation = page.continuation
        if not continuation:
            return found


def check_later(client_id: int, attempt: int) -> None:
    """Check again in a few seconds (another check of the client is running)."""
    _schedule_check(client_id, "after-busy", attempt + 1, BUSY_WAIT, 0)


class SettleFailed(Exception):
    """Recording one invoice's outcome failed; the others are recorded all the same."""


def settle_alone(run: _Run, invoice_id: int, status: InvoiceStatus, reference: str) -> None:
    """Record one invoice's outcome so that no fault of this row stops the rows after it."""
    try:
        _settle(run, invoice_id, status, reference)
    except (_Later, KsefRateLimited, KsefUnavailable):
        raise
    except Exception as exc:
        log.exception("recording the outcome of invoice %s failed", invoice_id)
        raise SettleFailed(invoice_id) from exc


def _settle(run: _Run, invoice_id: int, status: InvoiceStatus, session_reference: str) -> None:
    if status.code == ACCEPTED and status.ksef_number:
        number, upo_session, note = status.ksef_number, session_reference, ""
    elif status.code == DUPLICATE and (twin := _ours_already(run, invoice_id, status)):
        _set_state(
            [invoice_id],
            State.PROCESSING,
            State.REJECTED,
            error_code=DUPLICATE,
            error_description=(
                f"a duplicate of invoice #{twin[0]}, which KSeF accepted as {twin[1]}: "
                "the same invoice was submitted twice"
            ),
        )
        return
    elif status.code == DUPLICATE and status.extensions.get("originalKsefNumber"):
        number = status.extensions["originalKsefNumber"]
        upo_session = status.extensions.get("originalSessionReferenceNumber") or session_reference
        note = "KSeF already held this invoice; its original KSeF number and UPO are recorded"
    else:
        details = "; ".join(status.details)
        hint = NEXT_STEPS.get(status.code, "")
        _set_state(
            [invoice_id],
            State.PROCESSING,
            State.REJECTED,
            error_code=status.code,
            error_description=(
                f"{status.description}{': ' + details if details else ''}{hint}"[:2000]
            ),
        )
        return
    try:
        upo = run.call(
            "GET",
            f"/sessions/{upo_session}/invoices/ksef/{number}/upo",
            lambda: current_client().invoice_upo(upo_session, number, access_token=run.access),
        )
    except (KsefRateLimited, KsefUnavailable):
        raise
    except KsefError:
        if status.code != DUPLICATE:
            raise
        upo = None  # the original's UPO is not ours to read: judge by the document itself
    if status.code == DUPLICATE and not _same_document(run, invoice_id, number, upo):
        _set_state(
            [invoice_id],
            State.PROCESSING,
            State.REJECTED,
            error_code=DUPLICATE,
            error_description=(
                f"KSeF already holds a different invoice with this number for this seller "
                f"under KSeF number {number}; give this invoice a number of its own"
            ),
        )
        return
    with transaction() as s:
        held = bool(s.scalar(select(Invoice.reserved).where(Invoice.id == invoice_id)))
        if held:
            quota.lock(s, run.bureau_id)
        won = _changed(
            s,
            update(Invoice)
            .where(Invoice.id == invoice_id, Invoice.state == State.PROCESSING)
            .values(
                state=State.ACCEPTED,
                reserved=False,
                ksef_number=number,
                acquired_at=status.acquired_at,
                upo=upo,
                error_code=None,
                error_description=note,
                updated_at=now(),
            ),
        )
        if won:  # the acceptance happens once, and so does its debit, and its entry
            client = s.get(ClientCompany, run.client_id)
            accepted = s.get(Invoice, invoice_id)
            assert client is not None
            assert accepted is not None
            record(s, None, client, "invoice.accepted", accepted)
            quota.debit(
                s,
                bureau_id=run.bureau_id,
                client_id=run.client_id,
                operation_key=f"send:{invoice_id}",
                kind="send",
                reserved=held,
            )


def _ours_already(run: _Run, invoice_id: int, status: InvoiceStatus) -> tuple[int, str] | None:
    """(id, KSeF number) of another invoice of ours that KSeF's 440 names as the original."""
    number = status.extensions.get("originalKsefNumber")
    if not number:
        return None
    with transaction() as s:
        other = s.scalar(
            select(Invoice.id).where(
                Invoice.client_id == run.client_id,
                Invoice.ksef_number == number,
                Invoice.id != invoice_id,
            )
        )
    return (other, number) if other is not None else None


def _same_document(run: _Run, invoice_id: int, number: str, upo: bytes | None) -> bool:
    """Whether the invoice KSeF holds under ``number`` is our file (equal SHA-256).

    KSeF's 440 names the original by business key (seller, type, number), not by content:
    the original may be another program's document that happens to share the number. Its
    hash is read from its UPO, or else from the document KSeF serves under that number.
    """
    with transaction() as s:
        ours = s.scalar(select(Invoice.sha256).where(Invoice.id == invoice_id))
    theirs: str | None = None
    if upo is not None:
        try:
            entries = read_upo(upo)
        except ValidationFailed:
            entries = []
        theirs = next((e.sha256 for e in entries if e.ksef_number == number), None)
    if theirs is None:
        try:
            held = run.call(
                "GET",
                f"/invoices/ksef/{number}",
                lambda: current_client().download_invoice(number, access_token=run.access),
            )
        except (KsefRateLimited, KsefUnavailable):
            raise
        except KsefError:
            return False  # nothing shows the original is ours: never record it as ours
        theirs = sha256_b64(held)
    return theirs == ours


# ---------------------------------------------------------------------------- reconciler
def _lapsed(stamp: datetime) -> ColumnElement[bool]:
    """Rows in ``sending`` whose claim lapsed: its job is gone (or has outlived its lease)."""
    return and_(
        Invoice.state == State.SENDING,
        or_(
            Invoice.lease_until < stamp,
            and_(Invoice.lease_until.is_(None), Invoice.updated_at < stamp - STUCK_AFTER),
        ),
    )


def reconcile() -> dict[str, int]:
    """Re-enqueue work whose job was lost: queued rows, lapsed claims, processing rows.

    A lapsed claim's invoices not yet handed to KSeF are queued again at once; those handed
    are looked up in their KSeF session by a recovery job."""
    stamp = now()
    # Each round names its jobs afresh: a job killed mid-run keeps its id for a while.
    round_ = int(stamp.timestamp()) // 10
    counts = {"send": 0, "check": 0, "requeued": 0, "recover": 0}
    with transaction() as s:
        lapsed = s.execute(
            select(Invoice.id, Invoice.client_id, Invoice.session_reference, Invoice.handed_at)
            .where(_lapsed(stamp))
            .order_by(Invoice.id)
        ).all()
    unhanded = [row.id for row in lapsed if row.handed_at is None or not row.session_reference]
    _set_state(
        unhanded,
        State.SENDING,
        State.QUEUED,
        only=[
            _lapsed(stamp),
            or_(Invoice.handed_at.is_(None), Invoice.session_reference.is_(None)),
        ],
        session_reference=None,
    )
    counts["requeued"] = len(unhanded)
    sessions = {
        (row.client_id, row.session_reference)
        for row in lapsed
        if row.handed_at is not None and row.session_reference
    }
    with transaction() as s:
        for client_id, reference in sorted(sessions):
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.recover_sending",
                job_id=job_id("invoice-recover", client_id, reference, round_),
                queue="ksef",
                client_id=client_id,
                session_reference=reference,
            )
            counts["recover"] += 1
    with transaction() as s:
        for client_id, first in s.execute(
            select(Invoice.client_id, func.min(Invoice.id))
            .where(Invoice.state == State.QUEUED)
            .group_by(Invoice.client_id)
        ):
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.send_queued",
                job_id=job_id("invoice-send", client_id, first, "r", round_),
                queue="ksef",
                client_id=client_id,
            )
            counts["send"] += 1
        for (client_id,) in s.execute(
            select(Invoice.client_id).where(Invoice.state == State.PROCESSING).distinct()
        ):
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.check_sent",
                job_id=job_id("invoice-check", client_id, "reconcile", round_),
                queue="ksef",
                client_id=client_id,
            )
            counts["check"] += 1
    return counts


def recover(client_id: int, session_reference: str) -> str:
    """Settle a dead job's invoices that it handed to KSeF in ``session_reference``.

    Online: an invoice the session lists (by its SHA-256) is followed as processing, one it
    does not is queued again. A package: a session never closed is dropped by KSeF, so its
    invoices are queued again; a closed one is followed as processing."""
    stamp = now()
    with transaction() as s:
        rows = s.execute(
            select(Invoice.id, Invoice.claim, Invoice.sha256, Invoice.channel).where(
                _lapsed(stamp),
                Invoice.client_id == client_id,
                Invoice.session_reference == session_reference,
                Invoice.handed_at.is_not(None),
            )
        ).all()
    if not rows:
        return "nothing"
    try:
        run = _start(client_id, 0, 0, settling=True)
        if isinstance(run, str):
            return run
        if rows[0].channel == Channel.BATCH:
            status = run.call(
                "GET",
                f"/sessions/{session_reference}",
                lambda: current_client().session_status(session_reference, access_token=run.access),
            )
            found: dict[str, str | None] = {}
            if status.code != 100:  # closed: KSeF processes it, or has
                found = {row.sha256: None for row in rows}
        else:
            found = _listed(run, session_reference)
    except (Conflict, KsefError, _Later) as exc:  # asked again at the next reconciliation
        log.info("recovering session %s waits: %s", session_reference, exc)
        return "later"
    followed = 0
    for row in rows:
        only = [_lapsed(stamp)]
        if row.sha256 in found:
            reference = found[row.sha256]
            values: dict[str, object] = {"ksef_reference": reference} if reference else {}
            _set_state([row.id], State.SENDING, State.PROCESSING, claim=row.claim, only=only,
                       **values)  # fmt: skip
            followed += 1
        else:
            _set_state([row.id], State.SENDING, State.QUEUED, claim=row.claim, only=only,
                       session_reference=None)  # fmt: skip
    if followed:
        _schedule_check(client_id, f"recovered-{session_reference}", 0, 1.0)
    if followed < len(rows):
        follow_up(client_id)
    return f"followed {followed}, queued {len(rows) - followed}"


def _listed(run: _Run, session_reference: str) -> dict[str, str | None]:
    """SHA-256 → KSeF reference of every invoice KSeF took in an online session."""
    return {
        st.invoice_hash: st.reference_number for st in _statuses(run, session_reference).values()
    }
