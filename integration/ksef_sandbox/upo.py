"""UPO v4-3 documents (unsigned; the sandbox has no Ministry seal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lxml import etree

from integration.ksef_sandbox.state import Invoice, InvoiceSession

NS = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"
RECEIVER = "Ministerstwo Finansów"
WARSAW = dt.timezone(dt.timedelta(hours=1))


def _local(value: dt.datetime | None) -> str:
    assert value is not None
    return value.astimezone(WARSAW).isoformat(timespec="milliseconds")


def build(
    session: InvoiceSession,
    invoices: Sequence[Invoice],
    *,
    page: int | None = None,
    pages: int | None = None,
    first: int | None = None,
    total: int | None = None,
) -> bytes:
    def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        el = etree.SubElement(parent, f"{{{NS}}}{tag}")
        if text is not None:
            el.text = text
        return el

    root = etree.Element(f"{{{NS}}}Potwierdzenie", nsmap={None: NS})  # type: ignore[dict-item]
    sub(root, "NazwaPodmiotuPrzyjmujacego", RECEIVER)
    sub(root, "NumerReferencyjnySesji", session.reference_number)
    auth = sub(root, "Uwierzytelnienie")
    ctx = sub(auth, "IdKontekstu")
    tag = {
        "Nip": "Nip",
        "InternalId": "IdWewnetrzny",
        "NipVatUe": "IdZlozonyVatUE",
        "PeppolId": "IdDostawcyUslugPeppol",
    }[session.context_type]
    sub(ctx, tag, session.context_value)
    if session.auth_token_ref:
        sub(auth, "NumerReferencyjnyTokenaKSeF", session.auth_token_ref)
    else:
        sub(auth, "SkrotDokumentuUwierzytelniajacego", session.auth_document_hash or "")
    if page is not None:
        desc = sub(root, "OpisPotwierdzenia")
        sub(desc, "Strona", str(page))
        sub(desc, "LiczbaStron", str(pages))
        sub(desc, "ZakresDokumentowOd", str(first))
        sub(desc, "ZakresDokumentowDo", str((first or 1) + len(invoices) - 1))
        sub(desc, "CalkowitaLiczbaDokumentow", str(total))
    sub(root, "NazwaStrukturyLogicznej", "Schemat_FA(3)_v1-0E.xsd")
    sub(root, "KodFormularza", session.form_code.get("systemCode", "FA (3)"))
    for inv in invoices:
        meta = inv.meta or {}
        doc = sub(root, "Dokument")
        sub(doc, "NipSprzedawcy", inv.seller_nip or "")
        sub(doc, "NumerKSeFDokumentu", inv.ksef_number or "")
        sub(doc, "NumerFaktury", inv.invoice_number or "")
        sub(doc, "DataWystawieniaFaktury", meta.get("issueDate", ""))
        sub(doc, "DataPrzeslaniaDokumentu", _local(inv.invoicing_date))
        sub(doc, "DataNadaniaNumeruKSeF", _local(inv.acquisition_date))
        sub(doc, "SkrotDokumentu", inv.invoice_hash)
        sub(doc, "TrybWysylki", inv.invoicing_mode or "Online")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
