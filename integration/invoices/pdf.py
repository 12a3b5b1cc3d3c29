"""The invoice page as a PDF (fpdf2, with the Roboto font for Polish diacritics): the same
sections as the page, KOD I with the KSeF number under it, and the UPO's summary. The document
is in Polish, as the Ministry's visualisation is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import font_roboto
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from fpdf import FPDF
from fpdf.fonts import FontFace

from integration.core.clock import WARSAW
from integration.invoices import qr
from integration.invoices.documents import UpoDocument
from integration.invoices.models import Invoice
from integration.invoices.visual import InvoiceView

FONTS = Path(font_roboto.font_directory)
LOCALE = "pl_PL"
GREY = (95, 107, 122)
BRAND = (18, 60, 105)


def _money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_currency(amount, currency or "PLN", locale=LOCALE)


def _number(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value, locale=LOCALE)


def _day(value: str) -> str:
    try:
        return format_date(date.fromisoformat(value[:10]), "dd.MM.yyyy", locale=LOCALE)
    except ValueError:
        return value


def _moment(value: datetime | None) -> str:
    if value is None:
        return "—"
    return format_datetime(value, "dd.MM.yyyy HH:mm", tzinfo=WARSAW, locale=LOCALE)


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(auto=True, margin=15)
        self.add_font("Roboto", "", str(FONTS / "Roboto-Regular.ttf"))
        self.add_font("Roboto", "B", str(FONTS / "Roboto-Bold.ttf"))
        self.set_font("Roboto", size=9)
        self.set_title("Faktura")
        self.set_creator("Delegat")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("Roboto", "B", 9)
        self.set_text_color(*BRAND)
        self.cell(0, 6, text.upper(), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_font("Roboto", "", 9)

    def facts(self, rows: Sequence[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_text_color(*GREY)
            self.cell(55, 5, label)
            self.set_text_color(0, 0, 0)
            self.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")

    def grid(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int],
        right: Sequence[int] = (),
    ) -> None:  # fmt: skip
        aligns = tuple("RIGHT" if i in right else "LEFT" for i in range(len(header)))
        with self.table(
            col_widths=widths,
            text_align=aligns,
            headings_style=FontFace(emphasis="BOLD"),
            line_height=5,
            first_row_as_headings=True,
        ) as table:
            for values in (header, *rows):
                row = table.row()
                for value in values:
                    row.cell(value)


def render(
    invoice: Invoice, view: InvoiceView, kod_url: str, kod_label: str, upo: UpoDocument | None
) -> bytes:
    """The invoice as a PDF."""
    doc = _Document()
    doc.add_page()
    currency = view.currency or invoice.currency
    _head(doc, invoice, view, kod_url, kod_label)
    _parties_and_correction(doc, view)
    _lines(doc, view, currency)
    _summary(doc, view, currency)
    _the_rest(doc, view)
    if upo is not None:
        doc.heading("Urzędowe poświadczenie odbioru (UPO)")
        doc.facts(upo_facts(upo))
    return bytes(doc.output())


def upo_facts(upo: UpoDocument) -> list[tuple[str, str]]:
    """What the UPO says, as (label, value) in its order."""
    head = [
        ("Podmiot przyjmujący", upo.receiver),
        ("Sesja KSeF", upo.session),
        ("Kontekst", upo.context),
        ("Struktura logiczna", f"{upo.structure} ({upo.form})" if upo.form else upo.structure),
    ]
    return [(k, v) for k, v in head if v] + [fact for entry in upo.entries for fact in entry]


def render_upo(upo: UpoDocument) -> bytes:
    """The UPO alone as a PDF."""
    doc = _Document()
    doc.set_title("UPO")
    doc.add_page()
    doc.set_font("Roboto", "B", 13)
    doc.multi_cell(0, 8, "Urzędowe poświadczenie odbioru dokumentu elektronicznego (UPO)",
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    doc.set_font("Roboto", "", 9)
    doc.ln(2)
    doc.facts(upo_facts(upo))
    return bytes(doc.output())


def _head(doc: _Document, invoice: Invoice, view: InvoiceView, kod_url: str, label: str) -> None:
    top = doc.get_y()
    doc.set_text_color(*GREY)
    doc.cell(0, 5, (view.kind_label or "Faktura").upper(), new_x="LMARGIN", new_y="NEXT")
    doc.set_text_color(0, 0, 0)
    doc.set_font("Roboto", "B", 15)
    doc.cell(130, 9, f"Nr {view.number or invoice.number}", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Roboto", "", 9)
    facts = [
        ("Numer KSeF", invoice.ksef_number or "—"),
        ("Data przyjęcia w KSeF", _moment(invoice.acquired_at)),
        ("Data wystawienia", _day(view.issue_date) + (f", {view.place}" if view.place else "")),
    ]
    if view.sale_date:
        facts.append(("Data dostawy / wykonania usługi", _day(view.sale_date)))
    if view.period:
        facts.append(("Okres", view.period))
    doc.set_right_margin(60)
    doc.facts(facts)
    doc.set_right_margin(10)
    doc.image(BytesIO(qr.png(kod_url, scale=4)), x=160, y=top, w=38)  # KOD I
    doc.set_xy(150, top + 39)
    doc.set_font("Roboto", "B", 7)
    doc.multi_cell(58, 4, label, align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Roboto", "", 9)
    doc.set_y(max(doc.get_y(), top + 48))


def _parties_and_correction(doc: _Document, view: InvoiceView) -> None:
    doc.heading("Strony")
    parties = [
        [p.role, "\n".join([p.name, p.identifier, *p.address, *p.contact])] for p in view.parties
    ]
    doc.grid(["Rola", "Dane"], parties, (35, 155))
    if view.correction is None:
        return
    doc.heading("Faktura korygowana")
    corrected = [
        f"{number} z dnia {_day(issued)}" + (f", numer KSeF {ksef}" if ksef else "")
        for number, issued, ksef in view.correction.corrected
    ]
    doc.facts(
        [("Korygowana", line) for line in corrected]
        + ([("Przyczyna korekty", view.correction.reason)] if view.correction.reason else [])
        + ([("Skutek korekty", view.correction.kind)] if view.correction.kind else [])
    )


def _lines(doc: _Document, view: InvoiceView, currency: str) -> None:
    doc.heading("Pozycje")
    lines = [
        [
            line.number,
            line.name + (" (przed korektą)" if line.before else ""),
            _number(line.quantity),
            line.unit,
            _money(line.net_price, currency),
            line.rate + ("%" if line.rate.isdigit() else ""),
            _money(line.net, currency),
            _money(line.gross, currency),
        ]
        for line in view.lines
    ]
    doc.grid(
        ["Nr", "Nazwa", "Ilość", "J.m.", "Cena netto", "Stawka", "Netto", "Brutto"],
        lines,
        (8, 62, 16, 14, 25, 15, 25, 25),
        right=(2, 4, 5, 6, 7),
    )


def _summary(doc: _Document, view: InvoiceView, currency: str) -> None:
    doc.heading("Podsumowanie stawek podatku")
    vat_rows = [
        [r.label, _money(r.net, currency), _money(r.vat, currency)]
        + ([_money(r.vat_pln, "PLN")] if view.foreign else [])
        for r in view.vat
    ]
    header = ["Stawka", "Netto", "VAT"] + (["VAT w PLN"] if view.foreign else [])
    doc.grid(header, vat_rows, (70, 40, 40, 40)[: len(header)], right=(1, 2, 3))
    doc.ln(2)
    doc.set_font("Roboto", "B", 11)
    doc.cell(0, 7, f"Kwota należności ogółem: {_money(view.total, currency)}", align="R",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    doc.set_font("Roboto", "", 9)
    if view.foreign and view.exchange_rate:
        doc.cell(0, 5, f"Kurs waluty: {_number(view.exchange_rate)} PLN/{currency}", align="R",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip


def _the_rest(doc: _Document, view: InvoiceView) -> None:
    """Annotations, payment, orders, attachments and the footer, each when there is one."""
    if view.annotations:
        doc.heading("Adnotacje")
        for note in view.annotations:
            doc.multi_cell(0, 5, f"• {note}", new_x="LMARGIN", new_y="NEXT")
    if view.payment or view.accounts:
        doc.heading("Płatność")
        doc.facts([(label, _day(value)) for label, value in view.payment] + list(view.accounts))
    if view.orders or view.advances:
        doc.heading("Zamówienia i zaliczki")
        doc.facts([("Zamówienie", o) for o in view.orders]
                  + [("Faktura zaliczkowa", n) for n, _ in view.advances])  # fmt: skip
    for title, rows in view.attachments:
        doc.heading(f"Załącznik: {title}")
        if rows and rows[0]:
            width = max(1, 190 // len(rows[0]))
            doc.grid(rows[0], rows[1:], [width] * len(rows[0]))
    if view.notes or view.registers:
        doc.heading("Stopka")
        for note in view.notes:
            doc.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
        if view.registers:
            doc.cell(0, 5, " · ".join(f"{k}: {v}" for k, v in view.registers),
                     new_x="LMARGIN", new_y="NEXT")  # fmt: skip
