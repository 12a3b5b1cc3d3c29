"""Reading invoices (FA(3)) and UPOs: what the service keeps of them, checked on entry."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from integration.core.errors import FieldError, Text
from integration.xml.parsing import XmlRejected, parse
from integration.xml.schemas import FA3_NAMESPACE, check_fa3

# KSeF's limits (SI bytes): an invoice without an attachment, and one with (Zalacznik)
MAX_INVOICE_BYTES = 1_000_000
MAX_INVOICE_WITH_ATTACHMENT_BYTES = 3_000_000
MAX_UPO_BYTES = 1024 * 1024
UPO_NAMESPACE_PREFIX = "http://upo.schematy.mf.gov.pl/KSeF/"
KSEF_NUMBER = re.compile(r"^[1-9]\d{9}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$")
_NS = {"fa": FA3_NAMESPACE}


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass(frozen=True)
class InvoiceSummary:
    number: str
    invoice_type: str
    issue_date: date
    seller_nip: str
    seller_name: str
    buyer_identifier: str | None
    buyer_name: str
    currency: str
    gross_amount: Decimal
    sha256: str
    size: int
    # FA(3) Zalacznik: KSeF takes such an invoice in a batch session only
    has_attachment: bool = False


def _text(root: etree._Element, path: str) -> str:
    found = root.xpath(f"string({path})", namespaces=_NS)
    return str(found).strip()


def _buyer_identifier(root: etree._Element) -> str | None:
    ident = "fa:Podmiot2/fa:DaneIdentyfikacyjne"
    nip = _text(root, f"{ident}/fa:NIP")
    if nip:
        return nip
    eu = _text(root, f"{ident}/fa:KodUE") + _text(root, f"{ident}/fa:NrVatUE")
    return eu or _text(root, f"{ident}/fa:NrID") or None


def read_invoice(data: bytes, *, field: str = "xml") -> InvoiceSummary:
    """Parse and validate an FA(3) invoice; raise :class:`XmlRejected` naming every problem."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise XmlRejected.single(field, "the file starts with a byte-order mark; KSeF refuses it")
    root = parse(data, max_bytes=MAX_INVOICE_WITH_ATTACHMENT_BYTES, field=field)
    has_attachment = root.find("fa:Zalacznik", namespaces=_NS) is not None
    if not has_attachment and len(data) > MAX_INVOICE_BYTES:
        raise XmlRejected.single(
            field,
            f"the invoice exceeds {MAX_INVOICE_BYTES} bytes, KSeF's limit for an invoice "
            f"without an attachment (with one, {MAX_INVOICE_WITH_ATTACHMENT_BYTES})",
        )
    check_fa3(root, field=field)
    try:
        gross = Decimal(_text(root, "fa:Fa/fa:P_15"))
        issued = date.fromisoformat(_text(root, "fa:Fa/fa:P_1"))
    except (InvalidOperation, ValueError):  # the schema admits these; kept for safety
        raise XmlRejected.single(field, "P_1 or P_15 cannot be read") from None
    return InvoiceSummary(
        number=_text(root, "fa:Fa/fa:P_2"),
        invoice_type=_text(root, "fa:Fa/fa:RodzajFaktury"),
        issue_date=issued,
        seller_nip=_text(root, "fa:Podmiot1/fa:DaneIdentyfikacyjne/fa:NIP"),
        seller_name=_text(root, "fa:Podmiot1/fa:DaneIdentyfikacyjne/fa:Nazwa"),
        buyer_identifier=_buyer_identifier(root),
        buyer_name=_text(root, "fa:Podmiot2/fa:DaneIdentyfikacyjne/fa:Nazwa"),
        currency=_text(root, "fa:Fa/fa:KodWaluty"),
        gross_amount=gross,
        sha256=sha256_b64(data),
        size=len(data),
        has_attachment=has_attachment,
    )


@dataclass(frozen=True)
class UpoEntry:
    """One ``Dokument`` of a UPO: the acknowledgement of one invoice."""

    ksef_number: str
    invoice_number: str
    seller_nip: str
    sha256: str


def read_upo(data: bytes, *, field: str = "upo") -> list[UpoEntry]:
    """The documents a UPO acknowledges; :class:`XmlRejected` if it is not a KSeF UPO."""
    root = parse(data, max_bytes=MAX_UPO_BYTES, field=field)
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Potwierdzenie" or not namespace.startswith(
        UPO_NAMESPACE_PREFIX
    ):
        raise XmlRejected.single(field, "not a KSeF UPO (Potwierdzenie)")
    ns = {"u": namespace}

    def text(node: etree._Element, name: str) -> str:
        return str(node.xpath(f"string(u:{name})", namespaces=ns)).strip()

    entries = [
        UpoEntry(
            ksef_number=text(doc, "NumerKSeFDokumentu"),
            invoice_number=text(doc, "NumerFaktury"),
            seller_nip=text(doc, "NipSprzedawcy"),
            sha256=text(doc, "SkrotDokumentu"),
        )
        for doc in root.iterfind("u:Dokument", namespaces=ns)
    ]
    if not entries:
        raise XmlRejected.single(field, "the UPO acknowledges no document")
    return entries


def check_upo_covers(
    upo: bytes, *, ksef_number: str, sha256: str, field: str = "upo"
) -> list[FieldError]:
    """Problems if ``upo`` does not acknowledge the invoice with this KSeF number and hash."""
    try:
        entries = read_upo(upo, field=field)
    except XmlRejected as exc:
        return exc.errors
    for entry in entries:
        if entry.ksef_number == ksef_number:
            if entry.sha256 != sha256:
                return [
                    FieldError(
                        field,
                        Text(
                            "the UPO's hash of %(number)s is not the invoice's", number=ksef_number
                        ),
                    )
                ]
            return []
    return [FieldError(field, Text("the UPO does not acknowledge %(number)s", number=ksef_number))]


@dataclass(frozen=True)
class UpoDocument:
    """A UPO as people read it: who received what, when, in which session and context."""

    receiver: str
    session: str
    context: str
    structure: str
    form: str
    # per document: (label, value) pairs, in the UPO's order
    entries: list[list[tuple[str, str]]]


_UPO_FIELDS = (
    ("NumerKSeFDokumentu", "Numer KSeF"),
    ("NumerFaktury", "Numer faktury"),
    ("NipSprzedawcy", "NIP sprzedawcy"),
    ("DataWystawieniaFaktury", "Data wystawienia faktury"),
    ("DataPrzeslaniaDokumentu", "Data przesłania dokumentu"),
    ("DataNadaniaNumeruKSeF", "Data nadania numeru KSeF"),
    ("SkrotDokumentu", "Skrót dokumentu (SHA-256)"),
    ("TrybWysylki", "Tryb wysyłki"),
)


def read_upo_document(data: bytes, ksef_number: str | None = None) -> UpoDocument:
    """The UPO's header and its documents (only the one with ``ksef_number`` when given)."""
    read_upo(data)  # the same checks: a KSeF UPO that acknowledges something
    root = parse(data, max_bytes=MAX_UPO_BYTES, field="upo")
    ns = {"u": etree.QName(root).namespace or ""}

    def text(node: etree._Element, path: str) -> str:
        return str(node.xpath(f"string({path})", namespaces=ns)).strip()

    context = root.find("u:Uwierzytelnienie/u:IdKontekstu", namespaces=ns)
    context_text = " ".join(
        f"{etree.QName(c).localname}: {(c.text or '').strip()}"
        for c in (context if context is not None else [])
    )
    entries = []
    for doc in root.iterfind("u:Dokument", namespaces=ns):
        if ksef_number and text(doc, "u:NumerKSeFDokumentu") != ksef_number:
            continue
        entries.append(
            [
                (label, text(doc, f"u:{name}"))
                for name, label in _UPO_FIELDS
                if text(doc, f"u:{name}")
            ]
        )
    return UpoDocument(
        receiver=text(root, "u:NazwaPodmiotuPrzyjmujacego"),
        session=text(root, "u:NumerReferencyjnySesji"),
        context=context_text,
        structure=text(root, "u:NazwaStrukturyLogicznej"),
        form=text(root, "u:KodFormularza"),
        entries=entries,
    )
