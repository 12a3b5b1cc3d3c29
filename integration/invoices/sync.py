"""Incremental download of a client's cost invoices (the client is the buyer, Subject2).

The query runs on the permanent-storage date restricted to KSeF's high-water mark, so that
nothing stored later with an earlier date can be missed; ``synced_until`` moves to that mark
only after every invoice up to it is stored. Each invoice is committed as it arrives and the
unique (client, KSeF number) key makes a repeated run harmless.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integration.accounts.models import ClientCompany
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict
from integration.credentials.connection import budget_for
from integration.credentials.models import KsefCredential
from integration.credentials.service import KsefRefused, access_token_for
from integration.invoices.documents import sha256_b64
from integration.invoices.models import CostSync, Direction, Invoice, Source, State
from integration.jobs import enqueue_after_commit, job_id
from integration.jobs.runtime import exclusive
from integration.ksef.budget import RateBudget, group_of, patiently
from integration.ksef.client import InvoiceMetadata
from integration.ksef.errors import KsefError, KsefRateLimited, KsefUnavailable
from integration.ksef.runtime import current_client
from integration.licensing import service as licensing
from integration.licensing.numbers import Module
from integration.quota import service as quota
from integration.quota.service import QuotaExhausted

log = logging.getLogger(__name__)
FIRST_SYNC = timedelta(days=90)
MAX_WAIT = 300
MAX_SPAN = timedelta(days=90)
PAGE_SIZE = 250
METADATA = "/invoices/query/metadata"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _invoice_type(wire: str) -> str:
    """KSeF's ``KorZal`` is FA(3)'s ``KOR_ZAL``."""
    return _CAMEL.sub("_", wire).upper() if wire else "VAT"


def _again(client_id: int, attempt: int, delay: float, streak: int) -> None:
    """Run again later: ``attempt`` names the job (it only grows), ``streak`` sets its wait."""
    with transaction() as s:
        enqueue_after_commit(
            s,
            "integration.invoices.jobs.sync_costs",
            job_id=job_id("cost-sync", client_id, attempt + 1),
            queue="ksef",
            delay=timedelta(seconds=max(delay, 1.0)) if delay else None,
            client_id=client_id,
            attempt=attempt + 1,
            streak=streak + 1,
        )


def _record(client_id: int, **values: object) -> None:
    with transaction() as s:
        row = s.get(CostSync, client_id)
        if row is None:
            row = CostSync(client_id=client_id)
            s.add(row)
        for name, value in values.items():
            setattr(row, name, value)


class _Pause(Exception):
    """The rate budget is spent: continue in a later job after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


@dataclass
class _Window:
    """One run's query window and what it found."""

    client_id: int
    bureau_id: int
    context: str
    access: str
    budget: RateBudget
    start: datetime
    end: datetime
    mark: datetime | None = None
    stored: int = 0

    def take(self, method: str, path: str) -> None:
        wait = self.budget.take(self.context, group_of(method, path))
        if wait:
            raise _Pause(wait)


def _subject(client_id: int) -> tuple[str, int, datetime | None] | str:
    """(context NIP, bureau, synced until) of the client, or why there is nothing to do."""
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        if client is None:
            return "gone"
        modules = licensing.licensed_modules(s, client.bureau_id)
        if modules is not None and Module.COST_SYNC not in modules:
            return "not-licensed"
        state = s.get(CostSync, client_id)
        return client.nip, client.bureau_id, state.synced_until if state is not None else None


def _backoff(attempt: int) -> float:
    return float(min(2 ** min(attempt + 1, 9), MAX_WAIT))


def sync_costs(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Download the client's new cost invoices; one run per client at a time.

    ``streak`` counts KSeF faults in a row (the back-off); ``attempt`` only names the job.
    """
    with exclusive(f"cost-sync:{client_id}") as mine:
        if not mine:
            return "busy"  # another run of this client is at it
        return _sync(client_id, attempt, attempt if streak is None else streak)


def _sync(client_id: int, attempt: int, streak: int) -> str:  # noqa: PLR0911 - one per answer
    stamp = now()
    subject = _subject(client_id)
    if isinstance(subject, str):
        return subject
    context, bureau_id, synced_until = subject
    start = synced_until or stamp - FIRST_SYNC
    try:
        access = access_token_for(client_id)
        budget = budget_for(context, access)
    except (KsefUnavailable, KsefRateLimited) as exc:  # KSeF is busy or away: later
        _record(client_id, last_run_at=stamp, last_error=str(exc)[:1000])
        _again(client_id, attempt, _backoff(streak), streak)
        return "unavailable"
    except (Conflict, KsefRefused, KsefError) as exc:
        _record(client_id, last_run_at=stamp, last_error=str(exc)[:1000])
        return "no-credentials"
    window = _Window(
        client_id, bureau_id, context, access, budget, start, min(start + MAX_SPAN, stamp)
    )
    try:
        _download(window)
    except _Pause as pause:
        _record(client_id, last_run_at=stamp)
        _again(client_id, attempt, pause.delay, 0 if window.stored else streak)
        return "rescheduled"
    except KsefRateLimited as exc:
        window.budget.penalise(context, group_of("POST", METADATA), exc.retry_after)
        _record(client_id, last_run_at=stamp, last_error=str(exc)[:1000])
        _again(client_id, attempt, exc.retry_after, 0 if window.stored else streak)
        return "rate-limited"
    except KsefUnavailable as exc:  # what was stored stays; the mark waits for the rest
        _record(client_id, last_run_at=stamp, last_error=str(exc)[:1000])
        streak = 0 if window.stored else streak  # work done ends the streak
        _again(client_id, attempt, _backoff(streak), streak)
        return "unavailable"
    except (KsefError, QuotaExhausted) as exc:
        _record(client_id, last_run_at=stamp, last_error=str(exc)[:1000])
        log.warning("cost sync of client %s stopped: %s", client_id, exc)
        return "failed"
    reached = min(window.mark, window.end) if window.mark is not None else window.end
    with transaction() as s:
        row = s.get(CostSync, client_id)
        if row is None:
            row = CostSync(client_id=client_id, downloaded=0)
            s.add(row)
        row.synced_until = max(reached, start)
        row.last_run_at, row.last_error = stamp, ""
        if window.stored:
            audit.record(
                s,
                None,
                "invoices.downloaded",
                object_type="client",
                object_id=client_id,
                detail=f"{window.stored} cost invoice(s) from KSeF",
                **audit.of_client(bureau_id, client_id),
            )
    if window.end < stamp and reached >= window.end:  # a long gap: go on with the next span
        _again(client_id, attempt, 0, -1)
    return f"stored {window.stored}"


def _download(window: _Window) -> None:
    """Page through the window (continuing after a truncated result) and store new invoices."""
    ksef = current_client()
    page, cursor = 0, window.start
    while True:
        found = patiently(
            partial(window.take, "POST", METADATA),
            partial(
                ksef.query_metadata,
                access_token=window.access,
                subject_type="Subject2",
                date_type="PermanentStorage",
                date_from=cursor,
                date_to=window.end,
                page_offset=page,
                page_size=PAGE_SIZE,
            ),
        )
        window.mark = found.permanent_storage_hwm or window.mark
        for row in found.invoices:
            if _known(window.client_id, row.ksef_number):
                continue
            with transaction() as s:  # the download's operation is set aside first
                if not quota.reserve(s, window.bureau_id, 1):
                    quota.require_available(s, window.bureau_id)  # says how many are left
            try:  # stored, the reservation is paid; otherwise it is given back
                xml = patiently(
                    partial(window.take, "GET", f"/invoices/ksef/{row.ksef_number}"),
                    partial(ksef.download_invoice, row.ksef_number, access_token=window.access),
                )
                stored = _store(window, row, xml)
            except BaseException:
                with transaction() as s:
                    quota.release(s, window.bureau_id, 1)
                raise
            window.stored += stored
        if found.is_truncated and found.invoices:
            cursor = found.invoices[-1].permanent_storage_date or cursor
            page = 0
        elif found.has_more:
            page += 1
        else:
            return


def _known(client_id: int, ksef_number: str) -> bool:
    with transaction() as s:
        return (
            s.scalar(
                select(Invoice.id).where(
                    Invoice.client_id == client_id, Invoice.ksef_number == ksef_number
                )
            )
            is not None
        )


def _store(window: _Window, row: InvoiceMetadata, xml: bytes) -> int:
    """Keep a downloaded invoice and pay its download, together or not at all."""
    try:
        return _keep(window, row, xml)
    except IntegrityError:  # another run stored it at the same instant
        with transaction() as s:
            quota.release(s, window.bureau_id, 1)
        return 0


def _keep(window: _Window, row: InvoiceMetadata, xml: bytes) -> int:
    client_id = window.client_id
    with transaction() as s:
        if s.scalar(
            select(Invoice.id).where(
                Invoice.client_id == client_id, Invoice.ksef_number == row.ksef_number
            )
        ):
            quota.release(s, window.bureau_id, 1)
            return 0
        stamp = now()
        s.add(
            Invoice(
                client_id=client_id,
                direction=Direction.COST,
                state=State.ACCEPTED,
                source=Source.SYNCED,
                number=row.invoice_number,
                invoice_type=_invoice_type(row.invoice_type),
                issue_date=row.issue_date,
                seller_nip=row.seller_nip,
                seller_name=row.seller_name,
                buyer_identifier=row.buyer_identifier,
                buyer_name=row.buyer_name,
                currency=row.currency,
                gross_amount=Decimal(row.gross_amount).quantize(Decimal("0.01")),
                xml=xml,
                sha256=sha256_b64(xml),
                size=len(xml),
                ksef_number=row.ksef_number,
                acquired_at=row.permanent_storage_date,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        s.flush()
        counted = s.get(CostSync, client_id, with_for_update=True)
        if counted is None:
            counted = CostSync(client_id=client_id, downloaded=0)
            s.add(counted)
        counted.downloaded = (counted.downloaded or 0) + 1  # counted with what it counts
        quota.debit(
            s,
            bureau_id=window.bureau_id,
            client_id=client_id,
            operation_key=f"download:{client_id}:{row.ksef_number}",
            kind="download",
            reserved=True,
        )
    return 1


def enqueue_all() -> int:
    """Start a sync for every client whose KSeF credentials the service holds."""
    with transaction() as s:
        client_ids = s.scalars(
            select(KsefCredential.client_id)
            .where(KsefCredential.client_id.is_not(None), KsefCredential.kind == "ksef_token")
            .distinct()
        ).all()
        for client_id in client_ids:
            assert client_id is not None
            enqueue_after_commit(
                s,
                "integration.invoices.jobs.sync_costs",
                job_id=job_id("cost-sync", client_id, 0),
                queue="ksef",
                client_id=client_id,
            )
    return len(client_ids)


def request_sync(client_id: int) -> None:
    """Queue a sync now (a person pressed "download cost invoices")."""
    with transaction() as s:
        enqueue_after_commit(
            s,
            "integration.invoices.jobs.sync_costs",
            job_id=job_id("cost-sync", client_id, 0),
            queue="ksef",
            client_id=client_id,
        )
