"""Sample FA(3) invoices that use the sections people read: third parties, two rates in a
foreign currency, annotations, payment, orders, a footer with registers, and a correction with
the rows before and after. Written as the documents are, one element per line or so."""

from __future__ import annotations

import datetime as dt

BUYER = "5260250274"
HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza><DataWytworzeniaFa>2026-11-30T10:00:00Z</DataWytworzeniaFa>
  </Naglowek>
  <Podmiot1><DaneIdentyfikacyjne><NIP>{seller}</NIP><Nazwa>Ogrody Zielone Sp. z o.o.</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Kwiatowa 7</AdresL1><AdresL2>00-950 Warszawa</AdresL2></Adres>
    <DaneKontaktowe><Email>biuro@ogrody.example</Email></DaneKontaktowe></Podmiot1>
  <Podmiot2><DaneIdentyfikacyjne><NIP>{buyer}</NIP><Nazwa>Hurtownia Flora S.A.</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Polna 3, 30-001 Kraków</AdresL1></Adres><JST>2</JST><GV>2</GV></Podmiot2>
  <Podmiot3><DaneIdentyfikacyjne><NIP>7740001454</NIP><Nazwa>Magazyn Odbiorcy Sp. z o.o.</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Składowa 1, 80-001 Gdańsk</AdresL1></Adres><Rola>2</Rola></Podmiot3>
"""
ANNOTATIONS = """<Adnotacje><P_16>1</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>1</P_18A>
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie><NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>
      <P_23>2</P_23><PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy></Adnotacje>"""


def rich_vat_in_euro(seller: str, number: str, issued: dt.date) -> bytes:
    """Two rates, a third party, split payment and cash method, payment terms, an account, an
    order and a footer with registers, in euro with the VAT also in złoty."""
    return (
        HEAD.format(seller=seller, buyer=BUYER)
        + f"""  <Fa>
    <KodWaluty>EUR</KodWaluty><P_1>{issued.isoformat()}</P_1><P_1M>Warszawa</P_1M><P_2>{number}</P_2>
    <P_6>{issued.isoformat()}</P_6>
    <P_13_1>1000.00</P_13_1><P_14_1>230.00</P_14_1><P_14_1W>981.13</P_14_1W>
    <P_13_2>500.00</P_13_2><P_14_2>40.00</P_14_2><P_14_2W>170.64</P_14_2W>
    <P_15>1770.00</P_15>
    {ANNOTATIONS}
    <RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Sadzonki tui szmaragd</P_7><P_8A>szt.</P_8A>
      <P_8B>100</P_8B><P_9A>10.00</P_9A><P_11>1000.00</P_11><P_12>23</P_12><KursWaluty>4.2658</KursWaluty></FaWiersz>
    <FaWiersz><NrWierszaFa>2</NrWierszaFa><P_7>Ziemia ogrodowa</P_7><P_8A>worek</P_8A>
      <P_8B>50</P_8B><P_9A>10.00</P_9A><P_11>500.00</P_11><P_12>8</P_12><KursWaluty>4.2658</KursWaluty></FaWiersz>
    <Platnosc><TerminPlatnosci><Termin>2026-12-14</Termin></TerminPlatnosci><FormaPlatnosci>6</FormaPlatnosci>
      <RachunekBankowy><NrRB>PL61109010140000071219812874</NrRB><NazwaBanku>Bank Przykładowy</NazwaBanku></RachunekBankowy></Platnosc>
    <WarunkiTransakcji><Zamowienia><DataZamowienia>2026-11-20</DataZamowienia><NrZamowienia>ZAM/77/2026</NrZamowienia></Zamowienia></WarunkiTransakcji>
  </Fa>
  <Stopka><Informacje><StopkaFaktury>Dziękujemy za zakupy.</StopkaFaktury></Informacje>
    <Rejestry><KRS>0000123456</KRS><REGON>123456785</REGON></Rejestry></Stopka>
</Faktura>
"""
    ).encode()


def correction(seller: str, number: str, issued: dt.date, corrected: str, ksef: str) -> bytes:
    """A correction of a price, with the row before and after."""
    return (
        HEAD.format(seller=seller, buyer=BUYER)
        + f"""  <Fa>
    <KodWaluty>PLN</KodWaluty><P_1>{issued.isoformat()}</P_1><P_2>{number}</P_2>
    <P_13_1>-100.00</P_13_1><P_14_1>-23.00</P_14_1><P_15>-123.00</P_15>
    {ANNOTATIONS}
    <RodzajFaktury>KOR</RodzajFaktury><PrzyczynaKorekty>Rabat za terminową płatność</PrzyczynaKorekty>
    <TypKorekty>2</TypKorekty>
    <DaneFaKorygowanej><DataWystFaKorygowanej>{issued.isoformat()}</DataWystFaKorygowanej>
      <NrFaKorygowanej>{corrected}</NrFaKorygowanej><NrKSeF>1</NrKSeF><NrKSeFFaKorygowanej>{ksef}</NrKSeFFaKorygowanej></DaneFaKorygowanej>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Usługa księgowa</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B>
      <P_9A>1000.00</P_9A><P_11>1000.00</P_11><P_12>23</P_12><StanPrzed>1</StanPrzed></FaWiersz>
    <FaWiersz><NrWierszaFa>2</NrWierszaFa><P_7>Usługa księgowa</P_7><P_8A>szt.</P_8A><P_8B>1</P_8B>
      <P_9A>900.00</P_9A><P_11>900.00</P_11><P_12>23</P_12></FaWiersz>
  </Fa>
</Faktura>
"""
    ).encode()
