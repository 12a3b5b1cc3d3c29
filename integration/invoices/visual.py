"""An FA(3) invoice as people read it: its sections in the order of the Ministry's own
visualisation (parties, dates, lines, the VAT summary, annotations, payment, corrections,
footer), read from the stored XML. Values stay as the document gives them (text and
``Decimal``); the page formats them in the reader's language.

Only what the document holds is shown: an absent element is an absent line, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from integration.xml import parsing

# The VAT summary of FA(3): (net field, VAT field, VAT in PLN field, the rate's label)
VAT_RATES = (
    ("P_13_1", "P_14_1", "P_14_1W", "23% / 22%"),
    ("P_13_2", "P_14_2", "P_14_2W", "8% / 7%"),
    ("P_13_3", "P_14_3", "P_14_3W", "5%"),
    ("P_13_4", "P_14_4", "P_14_4W", "4% / 3%"),
    ("P_13_5", "P_14_5", None, "OSS"),
    ("P_13_6_1", None, None, "0% (kraj)"),
    ("P_13_6_2", None, None, "0% WDT"),
    ("P_13_6_3", None, None, "0% eksport"),
    ("P_13_7", None, None, "zw"),
    ("P_13_8", None, None, "np I"),
    ("P_13_9", None, None, "np II"),
    ("P_13_10", None, None, "oo"),
    ("P_13_11", None, None, "marża"),
)
TYPES = {
    "VAT": "Faktura podstawowa",
    "KOR": "Faktura korygująca",
    "ZAL": "Faktura zaliczkowa",
    "ROZ": "Faktura rozliczeniowa",
    "UPR": "Faktura uproszczona",
    "KOR_ZAL": "Faktura korygująca fakturę zaliczkową",
    "KOR_ROZ": "Faktura korygująca fakturę rozliczeniową",
}
ROLES_3 = {  # Podmiot3/Rola
    "1": "Faktor", "2": "Odbiorca", "3": "Podmiot pierwotny", "4": "Dodatkowy nabywca",
    "5": "Wystawca faktury", "6": "Dokonujący płatności", "7": "JST - wystawca",
    "8": "JST - odbiorca", "9": "Członek grupy VAT - wystawca",
    "10": "Członek grupy VAT - odbiorca", "11": "Pracownik",
}  # fmt: skip
PAYMENT_FORMS = {
    "1": "gotówka", "2": "karta", "3": "bon", "4": "czek", "5": "kredyt",
    "6": "przelew", "7": "mobilna",
}  # fmt: skip
CORRECTION_TYPES = {
    "1": "w dacie ujęcia faktury pierwotnej",
    "2": "w dacie wystawienia faktury korygującej",
    "3": "w innej dacie",
}


@dataclass(frozen=True)
class Party:
    role: str  # Sprzedawca, Nabywca, or a Podmiot3 role
    name: str
    identifier: str  # "NIP 1234563218", "UE DE123", "brak identyfikatora"
    address: list[str]
    contact: list[str] = field(default_factory=list)
    share: str = ""  # Podmiot3 Udzial


@dataclass(frozen=True)
class Line:
    number: str
    name: str
    unit: str
    quantity: Decimal | None
    net_price: Decimal | None
    gross_price: Decimal | None
    discount: Decimal | None
    net: Decimal | None
    gross: Decimal | None
    rate: str
    before: bool = False  # a correction's row as it was (StanPrzed)


@dataclass(frozen=True)
class VatRow:
    label: str
    net: Decimal
    vat: Decimal | None
    vat_pln: Decimal | None


@dataclass(frozen=True)
class Correction:
    reason: str
    kind: str
    corrected: list[tuple[str, str, str]]  # (number, issue date, KSeF number or "")


@dataclass
class InvoiceView:
    kind: str
    kind_label: str
    number: str
    issue_date: str
    place: str
    sale_date: str
    period: str
    currency: str
    exchange_rate: Decimal | None
    total: Decimal | None
    parties: list[Party]
    lines: list[Line]
    vat: list[VatRow]
    annotations: list[str]
    payment: list[tuple[str, str]]
    accounts: list[tuple[str, str]]  # (label, account number with bank)
    correction: Correction | None
    orders: list[str]
    notes: list[str]
    registers: list[tuple[str, str]]
    attachments: list[tuple[str, list[list[str]]]]  # (title, rows with the header first)
    advances: list[tuple[str, str]] = field(default_factory=list)

    @property
    def foreign(self) -> bool:
        return self.currency not in ("", "PLN")


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(parent: etree._Element | None, name: str) -> list[etree._Element]:
    if parent is None:
        return []
    return [c for c in parent if isinstance(c.tag, str) and _local(c) == name]


def _child(parent: etree._Element | None, *path: str) -> etree._Element | None:
    node = parent
    for name in path:
        found = _children(node, name)
        if not found:
            return None
        node = found[0]
    return node


def _text(parent: etree._Element | None, *path: str) -> str:
    node = _child(parent, *path)
    return (node.text or "").strip() if node is not None else ""


def _amount(parent: etree._Element | None, *path: str) -> Decimal | None:
    raw = _text(parent, *path)
    try:
        return Decimal(raw) if raw else None
    except InvalidOperation:
        return None


def _address(node: etree._Element | None) -> list[str]:
    address = _child(node, "Adres")
    lines = [_text(address, "AdresL1"), _text(address, "AdresL2")]
    country = _text(address, "KodKraju")
    if country and country != "PL":
        lines.append(country)
    return [line for line in lines if line]


def _identifier(data: etree._Element | None) -> str:
    if nip := _text(data, "NIP"):
        return f"NIP {nip}"
    if vat_eu := _text(data, "NrVatUE"):
        return f"VAT UE {_text(data, 'KodUE')}{vat_eu}"
    if other := _text(data, "NrID"):
        return f"{_text(data, 'KodKraju')} {other}".strip()
    if _child(data, "BrakID") is not None:
        return "brak identyfikatora"
    if iddw := _text(data, "IDWew"):
        return f"ID wewnętrzny {iddw}"
    return ""


def _contact(node: etree._Element | None) -> list[str]:
    found = []
    for contact in _children(node, "DaneKontaktowe"):
        found += [v for v in (_text(contact, "Email"), _text(contact, "Telefon")) if v]
    return found


def _party(node: etree._Element, role: str) -> Party:
    data = _child(node, "DaneIdentyfikacyjne")
    return Party(
        role=role,
        name=_text(data, "Nazwa"),
        identifier=_identifier(data),
        address=_address(node),
        contact=_contact(node),
        share=_text(node, "Udzial"),
    )


def _parties(root: etree._Element) -> list[Party]:
    parties = []
    if (seller := _child(root, "Podmiot1")) is not None:
        parties.append(_party(seller, "Sprzedawca"))
    if (buyer := _child(root, "Podmiot2")) is not None:
        parties.append(_party(buyer, "Nabywca"))
    for third in _children(root, "Podmiot3"):
        role = ROLES_3.get(_text(third, "Rola"), "") or _text(third, "OpisRoli") or "Podmiot"
        parties.append(_party(third, role))
    if (authorised := _child(root, "PodmiotUpowazniony")) is not None:
        parties.append(_party(authorised, "Podmiot upoważniony"))
    return parties


def _lines(fa: etree._Element | None) -> list[Line]:
    return [
        Line(
            number=_text(row, "NrWierszaFa"),
            name=_text(row, "P_7"),
            unit=_text(row, "P_8A"),
            quantity=_amount(row, "P_8B"),
            net_price=_amount(row, "P_9A"),
            gross_price=_amount(row, "P_9B"),
            discount=_amount(row, "P_10"),
            net=_amount(row, "P_11"),
            gross=_amount(row, "P_11A"),
            rate=_text(row, "P_12"),
            before=_text(row, "StanPrzed") == "1",
        )
        for row in _children(fa, "FaWiersz")
    ]


def _vat(fa: etree._Element | None) -> list[VatRow]:
    rows = []
    for net_field, vat_field, pln_field, label in VAT_RATES:
        net = _amount(fa, net_field)
        if net is None:
            continue
        rows.append(
            VatRow(
                label,
                net,
                _amount(fa, vat_field) if vat_field else None,
                _amount(fa, pln_field) if pln_field else None,
            )
        )
    return rows


def _annotations(fa: etree._Element | None) -> list[str]:
    notes = _child(fa, "Adnotacje")
    found = []
    flags = (
        ("P_16", "Metoda kasowa"),
        ("P_17", "Samofakturowanie"),
        ("P_18", "Odwrotne obciążenie"),
        ("P_18A", "Mechanizm podzielonej płatności"),
        (
            "P_23",
            "Procedura uproszczona (faktura wystawiana przez drugiego w kolejności podatnika)",
        ),
    )
    found += [label for name, label in flags if _text(notes, name) == "1"]
    exemption = _child(notes, "Zwolnienie")
    if _text(exemption, "P_19") == "1":
        basis = _text(exemption, "P_19A") or _text(exemption, "P_19B") or _text(exemption, "P_19C")
        found.append(f"Zwolnienie z podatku: {basis}" if basis else "Zwolnienie z podatku")
    transport = _child(notes, "NoweSrodkiTransportu")
    if _text(transport, "P_22") == "1":
        found.append("Wewnątrzwspólnotowa dostawa nowych środków transportu")
    margin = _child(notes, "PMarzy")
    if _text(margin, "P_PMarzy") == "1":
        kinds = (
            ("P_PMarzy_2", "procedura marży - biura podróży"),
            ("P_PMarzy_3_1", "procedura marży - towary używane"),
            ("P_PMarzy_3_2", "procedura marży - dzieła sztuki"),
            ("P_PMarzy_3_3", "procedura marży - przedmioty kolekcjonerskie i antyki"),
        )
        found += [label for name, label in kinds if _text(margin, name) == "1"] or [
            "Procedura marży"
        ]
    return found


def _payment(fa: etree._Element | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    pay = _child(fa, "Platnosc")
    facts: list[tuple[str, str]] = []
    if _text(pay, "Zaplacono") == "1":
        facts.append(("Zapłacono", _text(pay, "DataZaplaty")))
    if _text(pay, "ZnacznikZaplatyCzesciowej") in ("1", "2"):
        for part in _children(pay, "ZaplataCzesciowa"):
            paid = _text(part, "KwotaZaplatyCzesciowej")
            facts.append(("Zapłata częściowa", f"{paid} ({_text(part, 'DataZaplatyCzesciowej')})"))
    for term in _children(pay, "TerminPlatnosci"):
        facts.append(("Termin płatności", _text(term, "Termin") or _text(term, "TerminOpis")))
    if form := _text(pay, "FormaPlatnosci"):
        facts.append(("Forma płatności", PAYMENT_FORMS.get(form, form)))
    elif _text(pay, "PlatnoscInna") == "1":
        facts.append(("Forma płatności", _text(pay, "OpisPlatnosci")))
    accounts = []
    for label, name in (("Rachunek bankowy", "RachunekBankowy"),
                        ("Rachunek faktora", "RachunekBankowyFaktora")):  # fmt: skip
        for account in _children(pay, name):
            bank = _text(account, "NazwaBanku")
            number = _text(account, "NrRB")
            accounts.append((label, f"{number}{f' ({bank})' if bank else ''}"))
    return facts, accounts


def _correction(fa: etree._Element | None) -> Correction | None:
    corrected = [
        (
            _text(data, "NrFaKorygowanej"),
            _text(data, "DataWystFaKorygowanej"),
            _text(data, "NrKSeFFaKorygowanej"),
        )
        for data in _children(fa, "DaneFaKorygowanej")
    ]
    reason = _text(fa, "PrzyczynaKorekty")
    if not corrected and not reason:
        return None
    kind = CORRECTION_TYPES.get(_text(fa, "TypKorekty"), "")
    return Correction(reason=reason, kind=kind, corrected=corrected)


def _footer(root: etree._Element) -> tuple[list[str], list[tuple[str, str]]]:
    footer = _child(root, "Stopka")
    notes = [_text(i, "StopkaFaktury") for i in _children(footer, "Informacje")]
    registers = []
    for register in _children(footer, "Rejestry"):
        for name, label in (("KRS", "KRS"), ("REGON", "REGON"), ("BDO", "BDO")):
            if value := _text(register, name):
                registers.append((label, value))
    return [n for n in notes if n], registers


def _attachments(root: etree._Element) -> list[tuple[str, list[list[str]]]]:
    """The tables of ``Zalacznik`` (each BlokDanych's tables, header row first)."""
    found = []
    for block in _children(_child(root, "Zalacznik"), "BlokDanych"):
        title = _text(block, "ZNaglowek")
        for table in _children(block, "Tabela"):
            header = [_text(c, "NKom") for c in _children(_child(table, "TNaglowek"), "Kol")]
            rows = [[(c.text or "").strip() for c in _children(row, "WKom")]
                    for row in _children(table, "Wiersz")]  # fmt: skip
            found.append((_text(table, "Opis") or title, [header, *rows]))
    return found


def read(xml: bytes) -> InvoiceView:
    """The invoice's sections, from its FA(3) (or FA(2)) XML."""
    root = parsing.parse(xml)
    fa = _child(root, "Fa")
    kind = _text(fa, "RodzajFaktury")
    facts, accounts = _payment(fa)
    notes, registers = _footer(root)
    notes = [_text(f, "Wartosc") and f"{_text(f, 'Klucz')}: {_text(f, 'Wartosc')}"
             for f in _children(fa, "DodatkowyOpis")] + notes  # fmt: skip
    period = _child(fa, "OkresFa")
    orders = [
        f"{_text(o, 'NrZamowienia')} ({_text(o, 'DataZamowienia')})".replace(" ()", "")
        for o in _children(_child(fa, "WarunkiTransakcji"), "Zamowienia")
    ]
    advances = [
        (
            _text(a, "NrFaZaliczkowej") or _text(a, "NrKSeFFaZaliczkowej"),
            _text(a, "NrKSeFFaZaliczkowej"),
        )
        for a in _children(fa, "FakturaZaliczkowa")
    ]
    return InvoiceView(
        kind=kind,
        kind_label=TYPES.get(kind, kind),
        number=_text(fa, "P_2"),
        issue_date=_text(fa, "P_1"),
        place=_text(fa, "P_1M"),
        sale_date=_text(fa, "P_6"),
        period=(
            f"{_text(period, 'P_6_Od')} - {_text(period, 'P_6_Do')}" if period is not None else ""
        ),
        currency=_text(fa, "KodWaluty"),
        exchange_rate=_amount(fa, "KursWalutyZ"),
        total=_amount(fa, "P_15"),
        parties=_parties(root),
        lines=_lines(fa),
        vat=_vat(fa),
        annotations=_annotations(fa),
        payment=facts,
        accounts=accounts,
        correction=_correction(fa),
        orders=[o for o in orders if o],
        notes=[n for n in notes if n],
        registers=registers,
        attachments=_attachments(root),
        advances=[a for a in advances if a[0]],
    )
