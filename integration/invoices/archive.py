"""Moving invoices: a client's KSeF invoices with their UPOs as one ZIP, and back.

The archive holds ``manifest.json`` (format, the client's NIP, one entry per invoice) and the
documents themselves, ``sales/<KSeF number>.xml``, ``cost/<KSeF number>.xml`` and
``upo/<KSeF number>.xml``. An import reads everything first: each invoice must match its
manifest hash, be a valid FA(3) document of this client (seller of a sales invoice, buyer of a
cost invoice), carry a well-formed KSeF number of its seller, and its UPO must acknowledge that
number and hash. Every problem is reported with its entry; only a clean archive is written, in
one transaction. Invoices already present with the same content are skipped, so an import can
be repeated.

A bureau export holds ``manifest.json`` (format ``delegat-bureau``, the bureau, its clients)
and, per client NIP, ``<NIP>/counterparties.csv``, ``<NIP>/products.csv`` and
``<NIP>/invoices.zip``. Its import into another bureau account checks every file of every
client the same way and then writes all of it, adding the clients not served there yet, in one
transaction.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import Bureau, ClientCompany
from integration.accounts.service import add_client, load_client
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Text,
    ValidationFailed,
)
from integration.core.identifiers import InvalidIdentifier, normalize_nip
from integration.invoices import learning
from integration.invoices.documents import (
    KSEF_NUMBER,
    InvoiceSummary,
    check_upo_covers,
    read_invoice,
    sha256_b64,
)
from integration.invoices.models import Direction, Invoice, Source, State
from integration.invoices.service import invoice_from
from integration.invoices.zips import open_zip, read_member
from integration.licensing.service import record_export
from integration.masterdata.service import (
    KINDS,
    MAX_FILE_BYTES,
    ImportRejected,
    check_file,
    client_files,
    write_records,
)
from integration.xml.parsing import XmlRejected

FORMAT, BUREAU_FORMAT, VERSION = "delegat-invoices", "delegat-bureau", 1
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_ENTRIES = 100_000
MAX_MEMBER_BYTES = 1024 * 1024
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024  # what an archive's files may add up to
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_REPORTED = 500


class ArchiveRejected(ValidationFailed):
    slug, title = "archive-rejected", "The archive has errors; nothing was imported"


# ---------------------------------------------------------------------------- export
def _entry(invoice: Invoice) -> dict[str, Any]:
    number = invoice.ksef_number
    return {
        "file": f"{invoice.direction.value}/{number}.xml",
        "upo": f"upo/{number}.xml" if invoice.upo is not None else None,
        "direction": invoice.direction.value,
        "ksef_number": number,
        "number": invoice.number,
        "invoice_type": invoice.invoice_type,
        "issue_date": invoice.issue_date.isoformat(),
        "seller_nip": invoice.seller_nip,
        "buyer_identifier": invoice.buyer_identifier,
        "gross_amount": f"{invoice.gross_amount:.2f}",
        "currency": invoice.currency,
        "sha256": invoice.sha256,
        "acquired_at": invoice.acquired_at.isoformat() if invoice.acquired_at else None,
    }


def _archive(s: Session, client: ClientCompany) -> bytes:
    buffer = io.BytesIO()
    entries = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        rows = s.scalars(
            select(Invoice)
            .where(Invoice.client_id == client.id, Invoice.ksef_number.is_not(None))
            .order_by(Invoice.direction, Invoice.issue_date, Invoice.id)
            .execution_options(yield_per=200)
        )
        for invoice in rows:
            entry = _entry(invoice)
            zf.writestr(entry["file"], invoice.xml)
            if invoice.upo is not None:
                zf.writestr(entry["upo"], invoice.upo)
            entries.append(entry)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "client": {"nip": client.nip, "name": client.name},
            "exported_at": now().isoformat(),
            "invoices": entries,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    return buffer.getvalue()


def export_client(actor: Actor, client_id: int) -> bytes:
    """A client's invoices that KSeF numbered, with UPOs; read-only clients export too."""
    with transaction() as s:
        client = load_client(s, actor, client_id)
        data = _archive(s, client)
        audit.for_client(
            s,
            actor,
            "export.invoices",
            client,
            detail=f"{len(data)} bytes",
        )
        return data


def export_bureau(actor: Actor, bureau_id: int) -> bytes:
    """Everything of every client of a bureau: master data as CSV, invoices as archives."""
    if not actor.administers_bureau(bureau_id):
        raise (
            NotFound("no such bureau")
            if not actor.sees_bureau(bureau_id)
            else Forbidden("only a bureau admin exports the bureau")
        )
    buffer = io.BytesIO()
    with transaction() as s, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        clients = s.scalars(
            select(ClientCompany)
            .where(ClientCompany.bureau_id == bureau_id)
            .order_by(ClientCompany.id)
        ).all()
        bureau = s.get(Bureau, bureau_id)
        if bureau is None:
            raise NotFound("no such bureau")
        for client in clients:
            for name, data in client_files(s, client.id).items():
                zf.writestr(f"{client.nip}/{name}", data)
            zf.writestr(f"{client.nip}/invoices.zip", _archive(s, client))
        manifest = {
            "format": BUREAU_FORMAT,
            "version": VERSION,
            "bureau": {"nip": bureau.nip, "name": bureau.name},
            "exported_at": now().isoformat(),
            "clients": [{"nip": c.nip, "name": c.name} for c in clients],
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        record_export(s, bureau_id)
        audit.record(
            s,
            actor,
            "export.bureau",
            bureau_id=bureau_id,
            object_type="bureau",
            object_id=bureau_id,
            detail=f"{len(clients)} client(s)",
        )
    return buffer.getvalue()


# ---------------------------------------------------------------------------- import
@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int


@dataclass(frozen=True)
class _Checked:
    entry: dict[str, Any]
    direction: Direction
    xml: bytes
    upo: bytes | None
    summary: InvoiceSummary


def _open(data: bytes) -> zipfile.ZipFile:
    return open_zip(
        data,
        ArchiveRejected,
        max_bytes=MAX_ARCHIVE_BYTES,
        max_entries=MAX_ENTRIES,
        max_unpacked=MAX_UNPACKED_BYTES,
    )


def _read_manifest(zf: zipfile.ZipFile, fmt: str, listing: str) -> tuple[dict[str, Any], list[Any]]:
    """The manifest of format ``fmt`` and its list named ``listing``, or ArchiveRejected."""
    try:
        raw = read_member(zf, "manifest.json", MAX_MANIFEST_BYTES)
        manifest = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
        raise ArchiveRejected.single("manifest.json", f"cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise ArchiveRejected.single("manifest.json", f"not a {fmt} manifest")
    if manifest.get("version") != VERSION:
        raise ArchiveRejected.single(
            "manifest.json", f"version {manifest.get('version')!r} is not supported"
        )
    items = manifest.get(listing)
    if not isinstance(items, list):
        raise ArchiveRejected.single("manifest.json", f"{listing} must be a list")
    return manifest, items


def _manifest(zf: zipfile.ZipFile, nip: str) -> list[Any]:
    manifest, entries = _read_manifest(zf, FORMAT, "invoices")
    owner = (
        (manifest.get("client") or {}).get("nip")
        if isinstance(manifest.get("client"), dict)
        else None
    )
    if owner != nip:
        raise ArchiveRejected.single(
            "manifest.json",
            f"the archive belongs to NIP {owner}, not to this client's NIP {nip}",
        )
    return entries


def _check_entry(
    zf: zipfile.ZipFile, entry: Any, client_nip: str
) -> tuple[_Checked | None, list[str]]:
    if not isinstance(entry, dict):
        return None, ["not an object"]
    problems: list[str] = []
    try:
        direction = Direction(str(entry.get("direction")))
    except ValueError:
        return None, ["direction must be sales or cost"]
    number = entry.get("ksef_number")
    if not isinstance(number, str) or not KSEF_NUMBER.match(number):
        return None, [f"{number!r} is not a KSeF number"]
    try:
        xml = read_member(zf, entry.get("file"), MAX_MEMBER_BYTES)
        upo = (
            read_member(zf, entry["upo"], MAX_MEMBER_BYTES)
            if entry.get("upo") is not None
            else None
        )
    except ValueError as exc:
        return None, [str(exc)]
    digest = sha256_b64(xml)
    if digest != entry.get("sha256"):
        problems.append("the file's SHA-256 is not the one in the manifest")
    try:
        summary = read_invoice(xml, field="file")
    except XmlRejected as exc:
        return None, [*problems, *(e.message for e in exc.errors[:5])]
    if direction == Direction.SALES and summary.seller_nip != client_nip:
        problems.append(f"a sales invoice whose seller is {summary.seller_nip}, not this client")
    if direction == Direction.COST and summary.buyer_identifier != client_nip:
        problems.append(
            f"a cost invoice whose buyer is {summary.buyer_identifier}, not this client"
        )
    if not number.startswith(summary.seller_nip):
        problems.append(f"KSeF number {number} is not one of the seller {summary.seller_nip}")
    if upo is not None:
        problems += [e.message for e in check_upo_covers(upo, ksef_number=number, sha256=digest)]
    return _Checked(entry, direction, xml, upo, summary), problems


def _acquired(entry: dict[str, Any]) -> dt.datetime | None:
    value = entry.get("acquired_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _CheckedArchive:
    items: list[_Checked]
    skipped: int
    errors: list[FieldError]


def _check_archive(data: bytes, nip: str, existing: dict[str, str]) -> _CheckedArchive:
    """Every entry of an archive checked; ``existing`` maps KSeF numbers already here to hashes."""
    try:
        zf = _open(data)
        entries = _manifest(zf, nip)
    except ArchiveRejected as exc:
        return _CheckedArchive([], 0, list(exc.errors))
    errors: list[FieldError] = []
    checked: list[_Checked] = []
    seen: dict[str, int] = {}
    skipped = 0
    for index, raw in enumerate(entries, start=1):
        where = f"invoices[{index}]" + (
            f" {raw.get('file')}" if isinstance(raw, dict) and raw.get("file") else ""
        )
        item, problems = _check_entry(zf, raw, nip)
        if item is not None:
            number = item.entry["ksef_number"]
            if number in seen:
                problems.append(f"{number} is listed twice (also entry {seen[number]})")
            seen.setdefault(number, index)
            if number in existing:
                if existing[number] != item.summary.sha256:
                    problems.append(f"{number} is already here with different content")
                elif not problems:
                    skipped += 1
                    continue
        errors.extend(FieldError(where, p) for p in problems)
        if item is not None and not problems:
            checked.append(item)
    return _CheckedArchive(checked, skipped, errors)


def _existing(s: Session, client_id: int) -> dict[str, str]:
    return {
        number: digest
        for number, digest in s.execute(
            select(Invoice.ksef_number, Invoice.sha256).where(
                Invoice.client_id == client_id, Invoice.ksef_number.is_not(None)
            )
        )
        if number is not None
    }


def import_client(actor: Actor, client_id: int, data: bytes) -> ImportResult:
    """Check the whole archive, then write it in one transaction, or nothing."""
    with transaction() as s:
        client = load_client(s, actor, client_id)
        if not (actor.works_for_bureau(client.bureau_id) or actor.administers_client(client)):
            raise Forbidden("only the bureau or the client's admin imports invoices")
        guards.check_client_writable(s, client)
        nip = client.nip
        existing = _existing(s, client_id)
    result = _check_archive(data, nip, existing)
    if result.errors:
        raise ArchiveRejected(
            result.errors[:MAX_REPORTED],
            detail=f"{len(result.errors)} problem(s); nothing was imported",
        )
    try:
        with transaction() as s:
            client = load_client(s, actor, client_id)
            guards.check_client_writable(s, client)
            _write(s, actor, client_id, result.items)
            audit.for_client(
                s,
                actor,
                "import.invoices",
                client,
                detail=f"{len(result.items)} added, {result.skipped} already here",
            )
    except IntegrityError:
        raise Conflict("another import added some of these invoices meanwhile; retry") from None
    return ImportResult(created=len(result.items), skipped=result.skipped)


def _write(s: Session, actor: Actor, client_id: int, checked: list[_Checked]) -> None:
    for item in checked:
        s.add(
            invoice_from(
                item.summary,
                item.xml,
                client_id=client_id,
                direction=item.direction,
                state=State.ACCEPTED,
                source=Source.IMPORTED,
                ksef_number=item.entry["ksef_number"],
                acquired_at=_acquired(item.entry),
                upo=item.upo,
                created_by_user_id=actor.user_id,
            )
        )
    if checked:
        learning.enqueue_learning(s, client_id)


# ---------------------------------------------------------------------------- a whole bureau
@dataclass(frozen=True)
class BureauImportResult:
    clients_created: int
    clients_updated: int
    invoices_created: int
    invoices_skipped: int
    master_data_rows: int


@dataclass
class _ClientMove:
    nip: str
    name: str
    client_id: int | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    invoices: _CheckedArchive | None = None


def _bureau_clients(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(NIP, name) of every client in a bureau export, from its manifest."""
    _, clients = _read_manifest(zf, BUREAU_FORMAT, "clients")
    found: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    for index, entry in enumerate(clients, start=1):
        nip = entry.get("nip") if isinstance(entry, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        try:
            nip = normalize_nip(str(nip))
        except InvalidIdentifier as exc:
            errors.append(FieldError(f"clients[{index}]", f"nip: {exc}"))
            continue
        if not isinstance(name, str) or not name.strip():
            errors.append(FieldError(f"clients[{index}]", "name: must not be empty"))
            continue
        if any(nip == known for known, _ in found):
            errors.append(
                FieldError(f"clients[{index}]", Text("NIP %(nip)s is listed twice", nip=nip))
            )
            continue
        found.append((nip, name.strip()))
    if errors:
        raise ArchiveRejected(errors, detail=f"{len(errors)} problem(s); nothing was imported")
    return found


def _check_move(
    zf: zipfile.ZipFile, move: _ClientMove, existing: dict[str, str]
) -> list[FieldError]:
    errors: list[FieldError] = []
    for kind in KINDS:
        name = f"{move.nip}/{kind}.csv"
        try:
            move.records[kind] = check_file(kind, "csv", read_member(zf, name, MAX_FILE_BYTES))
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
        except ImportRejected as exc:
            errors.extend(FieldError(f"{name} {e.field}", e.message) for e in exc.errors)
    name = f"{move.nip}/invoices.zip"
    try:
        data = read_member(zf, name, MAX_ARCHIVE_BYTES)
    except ValueError as exc:
        return [*errors, FieldError(name, str(exc))]
    move.invoices = _check_archive(data, move.nip, existing)
    errors.extend(FieldError(f"{name} {e.field}", e.message) for e in move.invoices.errors)
    return errors


def import_bureau(actor: Actor, bureau_id: int, data: bytes) -> BureauImportResult:
    """Move a whole bureau export into this bureau: its clients (new ones are added, with the
    registration prompt), their master data and their invoices with UPOs. Every file of every
    client is checked first; anything wrong anywhere and nothing is written."""
    if not actor.administers_bureau(bureau_id):
        raise (
            NotFound("no such bureau")
            if not actor.sees_bureau(bureau_id)
            else Forbidden("only a bureau admin imports a bureau")
        )
    zf = _open(data)
    moves = [_ClientMove(nip, name) for nip, name in _bureau_clients(zf)]
    with transaction() as s:
        if s.get(Bureau, bureau_id) is None:
            raise NotFound("no such bureau")
        here = {
            c.nip: c
            for c in s.scalars(select(ClientCompany).where(ClientCompany.bureau_id == bureau_id))
        }
        existing: dict[str, dict[str, str]] = {}
        for move in moves:
            client = here.get(move.nip)
            if client is not None:
                guards.check_client_writable(s, client)
                move.client_id = client.id
                existing[move.nip] = _existing(s, client.id)
    errors: list[FieldError] = []
    for move in moves:
        errors += _check_move(zf, move, existing.get(move.nip, {}))
    if errors:
        raise ArchiveRejected(
            errors[:MAX_REPORTED], detail=f"{len(errors)} problem(s); nothing was imported"
        )
    created = rows = invoices = skipped = 0
    try:
        with transaction() as s:
            for move in moves:
                if move.client_id is None:
                    client = add_client(s, bureau_id, nip=move.nip, name=move.name)
                    move.client_id, created = client.id, created + 1
                else:
                    loaded = s.get(ClientCompany, move.client_id)
                    assert loaded is not None
                    client = loaded
                guards.check_client_writable(s, client)
                for kind, records in move.records.items():
                    result = write_records(s, kind, client.id, records)
                    rows += result.created + result.updated
                assert move.invoices is not None
                _write(s, actor, client.id, move.invoices.items)
                invoices += len(move.invoices.items)
                skipped += move.invoices.skipped
            audit.record(
                s,
                actor,
                "import.bureau",
                bureau_id=bureau_id,
                object_type="bureau",
                object_id=bureau_id,
                detail=f"{len(moves)} client(s), {created} new; {invoices} invoice(s)",
            )
    except IntegrityError:
        raise Conflict("another import changed these clients meanwhile; retry") from None
    return BureauImportResult(
        clients_created=created,
        clients_updated=len(moves) - created,
        invoices_created=invoices,
        invoices_skipped=skipped,
        master_data_rows=rows,
    )
