"""How long an invoice takes to become a document: the page's sections, KOD I and the PDF.

    .venv/bin/python benchmarks/documents.py [--repeat 20]

Two invoices: a typical one (one line) and one of about 50 KB (150 lines and an attachment
table of 200 rows). Medians in process, beside the yardstick measured in the same run: lxml
parsing the same file (the floor of any reading of it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from lxml import etree

from integration.invoices import pdf, qr, visual
from integration.invoices.models import Invoice
from integration.ksef_sandbox import testkit

NS = "http://crd.gov.pl/wzor/2025/06/25/13775/"


def _typical() -> bytes:
    return testkit.fa3_invoice(
        seller_nip="1234563218", buyer_nip="5260250274", number="FV/1/2026",
        issue_date=dt.date(2026, 11, 30), net=Decimal("1234.50"),
    )  # fmt: skip


def _large() -> bytes:
    """The typical invoice with 150 lines and a Zalacznik table of 200 rows (about 50 KB)."""
    root = etree.fromstring(_typical())
    fa = root.find(f"{{{NS}}}Fa")
    assert fa is not None
    template = fa.find(f"{{{NS}}}FaWiersz")
    assert template is not None
    for n in range(2, 151):
        row = etree.fromstring(etree.tostring(template))
        row.find(f"{{{NS}}}NrWierszaFa").text = str(n)  # type: ignore[union-attr]
        row.find(f"{{{NS}}}P_7").text = f"Pozycja {n}: materiał biurowy, zestaw"  # type: ignore[union-attr]
        fa.append(row)
    attachment = etree.SubElement(root, f"{{{NS}}}Zalacznik")
    block = etree.SubElement(attachment, f"{{{NS}}}BlokDanych")
    etree.SubElement(block, f"{{{NS}}}ZNaglowek").text = "Wykaz dostaw"
    table = etree.SubElement(block, f"{{{NS}}}Tabela")
    head = etree.SubElement(table, f"{{{NS}}}TNaglowek")
    for name in ("Data", "Dokument", "Ilość", "Wartość"):
        column = etree.SubElement(head, f"{{{NS}}}Kol")
        etree.SubElement(column, f"{{{NS}}}NKom").text = name
    for n in range(200):
        row = etree.SubElement(table, f"{{{NS}}}Wiersz")
        for value in (f"2026-11-{1 + n % 28:02d}", f"WZ/{n}/2026", str(n % 9 + 1), f"{n * 3}.50"):
            etree.SubElement(row, f"{{{NS}}}WKom").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _median(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    link = "https://qr.ksef.mf.gov.pl/invoice/1234563218/30-11-2026/" + "A" * 43
    for label, xml in (("typical invoice", _typical()), ("50 KB invoice, attachment", _large())):
        invoice = Invoice(number="FV/1/2026", currency="PLN", ksef_number=None, acquired_at=None,
                          session_reference=None)  # fmt: skip
        view = visual.read(xml)
        floor = _median(lambda xml=xml: etree.fromstring(xml), args.repeat)
        sections = _median(lambda xml=xml: visual.read(xml), args.repeat)
        document = _median(
            lambda view=view, invoice=invoice: pdf.render(invoice, view, link, "OFFLINE", None),
            args.repeat,
        )
        print(f"{label} ({len(xml) / 1024:.0f} KB, {len(view.lines)} lines)")
        print(f"  yardstick: lxml parses the file      {floor:8.2f} ms")
        print(f"  the page's sections (visual.read)    {sections:8.2f} ms")
        print(f"  the PDF (fpdf2, Roboto, KOD I)       {document:8.2f} ms")
    print(f"KOD I as PNG                             {_median(lambda: qr.png(link), 50):8.2f} ms")
    print(f"KOD I as SVG                             {_median(lambda: qr.svg(link), 50):8.2f} ms")


if __name__ == "__main__":
    main()
