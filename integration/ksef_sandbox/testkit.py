"""Test material the sandbox CLI hands out: certificates, signed requests, FA(3) invoices.

Self-signed certificates are built like qualified ones (KSeF TEST accepts them): a person
with ``serialNumber=PNOPL-<PESEL>`` or ``TINPL-<NIP>``, a company seal with
``organizationIdentifier=VATPL-<NIP>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.xades import XAdESSigner  # type: ignore[attr-defined]

from integration.ksef_sandbox.crypto import self_signed

AUTH_NS = "http://ksef.mf.gov.pl/auth/token/2.0"


@dataclass(frozen=True)
class TestCertificate:
    private_key_pem: bytes
    certificate_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)


def _certificate(attributes: list[x509.NameAttribute[str]], days: int = 730) -> TestCertificate:
    pem, cert = self_signed(attributes, dt.datetime.now(dt.UTC), days)
    return TestCertificate(pem, cert.public_bytes(serialization.Encoding.PEM))


def person_certificate(
    first_name: str, last_name: str, *, pesel: str | None = None, nip: str | None = None
) -> TestCertificate:
    if (pesel is None) == (nip is None):
        raise ValueError("a person certificate carries either a PESEL or a NIP")
    serial = f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
    return _certificate(
        [
            x509.NameAttribute(NameOID.GIVEN_NAME, first_name),
            x509.NameAttribute(NameOID.SURNAME, last_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{first_name} {last_name}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def seal_certificate(organization: str, nip: str) -> TestCertificate:
    return _certificate(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COMMON_NAME, organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def auth_token_request(
    challenge: str, context_nip: str, subject_identifier_type: str = "certificateSubject"
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<AuthTokenRequest xmlns="{AUTH_NS}">'
        f"<Challenge>{escape(challenge)}</Challenge>"
        f"<ContextIdentifier><Nip>{escape(context_nip)}</Nip></ContextIdentifier>"
        f"<SubjectIdentifierType>{subject_identifier_type}</SubjectIdentifierType>"
        f"</AuthTokenRequest>"
    ).encode()


def sign_xades(document: bytes, cert: TestCertificate) -> bytes:
    """An enveloped XAdES-BES signature over ``document``."""
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    signer = XAdESSigner(
        method=methods.enveloped, signature_algorithm="rsa-sha256", digest_algorithm="sha256"
    )
    signed = signer.sign(root, key=cert.private_key_pem, cert=cert.certificate_pem.decode())
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def fa3_invoice(
    *,
    seller_nip: str,
    buyer_nip: str,
    number: str,
    issue_date: dt.date,
    net: Decimal = Decimal("100.00"),
    seller_name: str = "Sprzedawca Sp. z o.o.",
    buyer_name: str = "Nabywca Sp. z o.o.",
    created_at: dt.datetime | None = None,
    invoice_type: str = "VAT",
) -> bytes:
    """A minimal valid FA(3) invoice with one line at 23 % VAT."""
    vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
    created = (created_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>{created}</DataWytworzeniaFa>
    <SystemInfo>ksef-sandbox</SystemInfo>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne><NIP>{seller_nip}</NIP><Nazwa>{escape(seller_name)}</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Prosta 1, 00-001 Warszawa</AdresL1></Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne><NIP>{buyer_nip}</NIP><Nazwa>{escape(buyer_name)}</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Krzywa 2, 30-001 Kraków</AdresL1></Adres>
    <JST>2</JST>
    <GV>2</GV>
  </Podmiot2>
  <Fa>
    <KodWaluty>PLN</KodWaluty>
    <P_1>{issue_date.isoformat()}</P_1>
    <P_2>{escape(number)}</P_2>
    <P_13_1>{net:.2f}</P_13_1>
    <P_14_1>{vat:.2f}</P_14_1>
    <P_15>{net + vat:.2f}</P_15>
    <Adnotacje>
      <P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A>
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie>
      <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>
      <P_23>2</P_23>
      <PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>
    </Adnotacje>
    <RodzajFaktury>{invoice_type}</RodzajFaktury>
    <FaWiersz>
      <NrWierszaFa>1</NrWierszaFa>
      <P_7>Usługa księgowa</P_7>
      <P_8A>szt.</P_8A>
      <P_8B>1</P_8B>
      <P_9A>{net:.2f}</P_9A>
      <P_11>{net:.2f}</P_11>
      <P_12>23</P_12>
    </FaWiersz>
  </Fa>
</Faktura>
""".encode()
