"""Many sales invoices at once: a ZIP of FA(3) files sent through a KSeF batch session.

A person (or an ERP) uploads a ZIP of invoices; every file is checked as a single invoice
would be, and either all are queued (``channel = batch``) or none, with every problem named by
file. The sending job packs the queued invoices into one ZIP named ``<invoice id>.xml``, splits
it into parts of at most 100 MB, encrypts each with the session key, declares the package,
uploads the parts to the addresses KSeF gives and closes the session; the check job waits for
KSeF to judge the package and reads each invoice's outcome by its file name.

The state machine and its guarantees are those of online sending: a crash after KSeF took
the package leaves the rows in ``sending``, the reconciler queues them again, and KSeF answers
the second copy with 440 and the original KSeF numbers, recorded as the acceptances they are.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections import defaultdict
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from integration.accounts.actor import Actor
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import FieldError, Text, ValidationFailed
from integration.invoices import sending
from integration.invoices.documents import (
    MAX_INVOICE_WITH_ATTACHMENT_BYTES,
    InvoiceSummary,
    read_invoice,
)
from integration.invoices.models import Channel, Invoice, State
from integration.invoices.service import (
    DuplicateInvoice,
    client_for_sending,
    duplicate_problem,
    enqueue_sending,
    issue_date_problem,
    queued_sale,
    seller_problem,
)
from integration.invoices.zips import open_zip, read_member
from integration.ksef.budget import patiently
from integration.ksef.client import InvoiceStatus
from integration.ksef.crypto import SessionKey, b64, rsa_oaep_encrypt, sha256_b64
from integration.ksef.errors import KsefError, KsefRateLimited, KsefUnavailable
from integration.ksef.runtime import current_client
from integration.licensing import service as licensing
from integration.licensing.numbers import Module
from integration.quota import service as quota
from integration.xml.parsing import XmlRejected

log = logging.getLogger(__name__)
MAX_PACKAGE_INVOICES = 10_000  # KSeF's limit of invoices in one session
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # what the package's invoices may add up to
PART_BYTES = 100_000_000  # KSeF's limit of a part before encryption (SI megabytes)
MAX_REPORTED = 500
CHECK_EVERY = 5.0


class PackageRejected(ValidationFailed):
    slug, title = "package-rejected", "The package has errors; no invoice was queued"


# ---------------------------------------------------------------------------- intake
def _read_files(data: bytes) -> tuple[list[tuple[str, bytes, InvoiceSummary]], list[FieldError]]:
    zf = open_zip(
        data,
        PackageRejected,
        max_bytes=MAX_UPLOAD_BYTES,
        max_entries=MAX_PACKAGE_INVOICES,
        max_unpacked=MAX_UNPACKED_BYTES,
    )
    files: list[tuple[str, bytes, InvoiceSummary]] = []
    errors: list[FieldError] = []
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        if not name.lower().endswith(".xml"):
            errors.append(FieldError(name, "only FA(3) invoices (.xml files) belong in a package"))
            continue
        try:
            xml = read_member(zf, name, MAX_INVOICE_WITH_ATTACHMENT_BYTES)
            files.append((name, xml, read_invoice(xml, field=name)))
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
        except XmlRejected as exc:
            errors.extend(exc.errors[:5])
    if not files and not errors:
        errors.append(FieldError("file", "the archive holds no invoices"))
    return files, errors


def submit_package(actor: Actor, client_id: int, data: bytes) -> list[Invoice]:
    """Check every invoice of a ZIP and queue them all for one KSeF batch session, or none."""
    with transaction() as s:  # who may send, before anything about the files is told
        client = client_for_sending(s, actor, client_id)
        licensing.require_module(s, client.bureau_id, Module.BATCH_SENDING)
    files, errors = _read_files(data)
    with transaction() as s:
        client = client_for_sending(s, actor, client_id)
        licensing.require_module(s, client.bureau_id, Module.BATCH_SENDING)
        seen: dict[tuple[str, str], str] = {}
        for name, _, summary in files:
            problem = seller_problem(client, summary) or issue_date_problem(summary)
            if problem:
                errors.append(FieldError(name, problem))
            key = (summary.number, summary.invoice_type)
            if key in seen:
                errors.append(
                    FieldError(
                        name,
                        Text(
                            "invoice %(number)s is also %(other)s",
                            number=summary.number,
                            other=seen[key],
                        ),
                    )
                )
            seen.setdefault(key, name)
            duplicate = duplicate_problem(s, client.id, summary)
            if duplicate is not None:
                errors.append(FieldError(name, duplicate[0]))
        if errors:
            raise PackageRejected(
                errors[:MAX_REPORTED], detail=f"{len(errors)} problem(s); no invoice was queued"
            )
        quota.require_available(s, client.bureau_id, len(files))
        rows = [
            queued_sale(actor, client.id, summary, xml, Channel.BATCH) for _, xml, summary in files
        ]
        try:
            with s.begin_nested():
                s.add_all(rows)
                s.flush()
        except IntegrityError:
            raise DuplicateInvoice(
                "an invoice of this package was submitted meanwhile; no invoice was queued"
            ) from None
        audit.for_client(
            s,
            actor,
            "package.submitted",
            client,
            object_type="package",
            object_id=rows[0].id,
            detail=f"{len(rows)} invoice(s): {', '.join(r.number for r in rows[:20])}",
        )
        enqueue_sending(s, client.id)
    return rows


# ---------------------------------------------------------------------------- sending
def _pack(claimed: list[int]) -> bytes:
    buffer = io.BytesIO()
    with (
        transaction() as s,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        rows = s.execute(
            select(Invoice.id, Invoice.xml)
            .where(Invoice.id.in_(claimed))
            .order_by(Invoice.id)
            .execution_options(yield_per=200)
        )
        for invoice_id, xml in rows:
            zf.writestr(f"{invoice_id}.xml", xml)
    return buffer.getvalue()


def _requeue(run: sending._Run, claimed: list[int], exc: Exception, group: str) -> str:
    """Nothing of the package is known to count: queue it again for a later job."""
    sending._set_state(
        claimed, State.SENDING, State.QUEUED, claim=run.claim, session_reference=None
    )
    delay = run.later(exc, group)
    sending._reschedule_sending(run.client_id, claimed[0], run.attempt, delay, run.streak)
    return "rescheduled"


def _refused(run: sending._Run, claimed: list[int], exc: KsefError) -> str:
    sending._set_state(
        claimed,
        State.SENDING,
        State.FAILED,
        claim=run.claim,
        error_code=exc.code,
        error_description=f"KSeF refused the package: {exc}"[:2000],
    )
    return "failed"


def _handed(run: sending._Run, claimed: list[int]) -> bool:
    """Mark the package handed to KSeF: from its closing on, KSeF may process it."""
    with transaction() as s:
        stamp = now()
        return bool(
            sending._changed(
                s,
                update(Invoice)
                .where(
                    Invoice.id.in_(claimed),
                    Invoice.state == State.SENDING,
                    Invoice.claim == run.claim,
                )
                .values(handed_at=stamp, lease_until=stamp + sending.LEASE[Channel.BATCH]),
            )
        )


def _hand_over(run: sending._Run, claimed: list[int]) -> str | None:
    """Open a batch session, upload the package and close it: its reference, or None if the
    claim was taken back on the way (a session never closed is dropped by KSeF)."""
    ksef = current_client()
    archive = _pack(claimed)
    key = SessionKey.generate()
    parts = [key.encrypt(archive[i : i + PART_BYTES]) for i in range(0, len(archive), PART_BYTES)]
    run.take("POST", "/sessions/batch")
    if not sending._hold(run, claimed):
        return None
    public = ksef.public_key("SymmetricKeyEncryption")
    reference, uploads = ksef.open_batch_session(
        access_token=run.access,
        file_size=len(archive),
        file_hash=sha256_b64(archive),
        parts=[(len(part), sha256_b64(part)) for part in parts],
        encrypted_key=b64(rsa_oaep_encrypt(public.certificate, key.key)),
        iv=b64(key.iv),
    )
    sending._set_state(
        claimed, State.SENDING, State.SENDING, claim=run.claim, session_reference=reference
    )
    for upload, part in zip(uploads, parts, strict=True):
        if not sending._hold(run, claimed):
            return None
        patiently(lambda: None, partial(ksef.upload_part, upload, part))  # no budget: not limited
    run.take("POST", f"/sessions/batch/{reference}/close")
    if not _handed(run, claimed):
        return None
    ksef.close_batch_session(reference, access_token=run.access)
    return reference


def send_package(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Send the client's queued package invoices in one KSeF batch session."""
    claimed = sending._claim(client_id, Channel.BATCH, MAX_PACKAGE_INVOICES)
    if not claimed:
        return "idle"
    run = sending._begin(client_id, claimed, attempt, attempt if streak is None else streak)
    if isinstance(run, str):
        return run
    try:
        reference = _hand_over(run, claimed)
    except (sending._Later, KsefRateLimited, KsefUnavailable, ValueError) as exc:
        # An unclosed session is dropped by KSeF; had it been closed after all, the next
        # copy is answered with 440 and the original KSeF numbers.
        return _requeue(run, claimed, exc, "batchSession")
    except KsefError as exc:  # refused outright: rights, form code, sizes, missing parts
        return _refused(run, claimed, exc)
    if reference is None:
        return "taken-back"
    sending._set_state(claimed, State.SENDING, State.PROCESSING, claim=run.claim)
    sending._schedule_check(client_id, reference, 0, CHECK_EVERY)
    return f"package of {len(claimed)}"


# ---------------------------------------------------------------------------- outcome
def _statuses(run: sending._Run, reference: str) -> dict[str, InvoiceStatus]:
    ksef = current_client()
    found: dict[str, InvoiceStatus] = {}
    continuation: str | None = None
    while True:
        page = run.call(
            "GET",
            f"/sessions/{reference}/invoices",
            partial(
                ksef.session_invoices,
                reference,
                access_token=run.access,
                continuation=continuation,
            ),
        )
        found.update({st.file_name: st for st in page.invoices if st.file_name})
        continuation = page.continuation
        if not continuation:
            return found


def check_packages(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Follow the client's packages in KSeF; store KSeF numbers and UPOs, or the reasons."""
    with transaction() as s:
        rows = s.execute(
            select(Invoice.id, Invoice.session_reference).where(
                Invoice.client_id == client_id,
                Invoice.state == State.PROCESSING,
                Invoice.channel == Channel.BATCH,
            )
        ).all()
    sessions: dict[str, list[int]] = defaultdict(list)
    for invoice_id, reference in rows:
        if reference:
            sessions[reference].append(invoice_id)
    if not sessions:
        return "idle"
    marker = next(iter(sessions))
    run = sending._begin_check(client_id, marker, attempt, attempt if streak is None else streak)
    if isinstance(run, str):
        return run
    waiting = False
    try:
        for reference, ids in sessions.items():
            session = run.call(
                "GET",
                f"/sessions/{reference}",
                partial(current_client().session_status, reference, access_token=run.access),
            )
            if session.pending:
                waiting = True
                continue
            waiting |= _settle_package(run, reference, ids, session.code, session.description)
    except (sending._Later, KsefRateLimited, KsefUnavailable) as exc:
        delay = run.later(exc, "sessionMisc")
        sending._schedule_check(client_id, marker, attempt + 1, delay, run.streak + 1)
        return "rescheduled"
    if waiting:
        delay = min(CHECK_EVERY * (attempt + 1), float(sending.MAX_BACKOFF))
        sending._schedule_check(client_id, marker, attempt + 1, delay)
        return "waiting"
    return "done"


def _settle_package(
    run: sending._Run, reference: str, ids: list[int], code: int, description: str
) -> bool:
    """Record each invoice of a judged package; True while some are still being judged."""
    statuses = _statuses(run, reference)
    waiting = False
    lost = []
    for invoice_id in ids:
        status = statuses.get(f"{invoice_id}.xml")
        if status is None:
            lost.append(invoice_id)
        elif status.pending:
            waiting = True
        else:
            try:
                sending.settle_alone(run, invoice_id, status, reference)
            except sending.SettleFailed:
                waiting = True  # asked again later; the package's other invoices go on
    if lost:  # the package as a whole failed (its key, its parts, its time): send it again
        sending._set_state(
            lost,
            State.PROCESSING,
            State.FAILED,
            error_code=code,
            error_description=f"KSeF could not process the package ({code}): {description}; "
            "send the invoices again"[:2000],
        )
    return waiting
