"""XAdES for KSeF authentication: the unsigned AuthTokenRequest, checks of a signed one
before it is forwarded, and server-side signing with a company seal."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.xades import XAdESSigner, XAdESVerifier  # type: ignore[attr-defined]

from integration.core.errors import ValidationFailed
from integration.xml.parsing import parse

AUTH_NS = ("http://ksef.mf.gov.pl/auth/token/2.0", "http://ksef.mf.gov.pl/auth/token/2.1")
DS = "http://www.w3.org/2000/09/xmldsig#"
CHALLENGE_TTL = dt.timedelta(minutes=10)
MAX_SIGNED_BYTES = 256 * 1024


class SignedRequestRejected(ValidationFailed):
    """The signed file would fail in KSeF; ``reason`` says why, for the person who signed."""

    slug, title = "signed-request-rejected", "The signed file cannot be used"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__([], detail=message)
        self.extensions["reason"] = reason


def auth_token_request(
    challenge: str, context_nip: str, subject_identifier_type: str = "certificateSubject"
) -> bytes:
    if subject_identifier_type not in ("certificateSubject", "certificateFingerprint"):
        raise ValidationFailed.single(
            "subject_identifier_type", "certificateSubject or certificateFingerprint"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<AuthTokenRequest xmlns="{AUTH_NS[0]}">'
        f"<Challenge>{escape(challenge)}</Challenge>"
        f"<ContextIdentifier><Nip>{escape(context_nip)}</Nip></ContextIdentifier>"
        f"<SubjectIdentifierType>{subject_identifier_type}</SubjectIdentifierType>"
        "</AuthTokenRequest>\n"
    ).encode()


@dataclass(frozen=True)
class CheckedRequest:
    challenge: str
    context_nip: str
    signer_subject: str


def check_signed_request(
    data: bytes, *, challenge: str, context_nip: str, issued_at: dt.datetime, now: dt.datetime
) -> CheckedRequest:
    """What KSeF would refuse, refused here first with a precise reason."""
    root = parse(data, max_bytes=MAX_SIGNED_BYTES, field="file")
    document = root.find(f"{{{DS}}}Object/*") if root.tag == f"{{{DS}}}Signature" else root
    if (
        document is None
        or etree.QName(document).localname != "AuthTokenRequest"
        or etree.QName(document).namespace not in AUTH_NS
    ):
        raise SignedRequestRejected("not-an-auth-request", "the file is not an AuthTokenRequest")
    signatures = root.findall(f".//{{{DS}}}Signature") + (
        [root] if root.tag == f"{{{DS}}}Signature" else []
    )
    if not signatures:
        raise SignedRequestRejected(
            "not-signed",
            "the file is not signed; sign it with your "
            "qualified signature or seal and upload the signed file",
        )
    if len(signatures) > 1:
        raise SignedRequestRejected(
            "too-many-signatures",
            "the file carries more than one signature; sign the downloaded file once",
        )
    ns = {"a": etree.QName(document).namespace}
    if (document.findtext("a:Challenge", namespaces=ns) or "").strip() != challenge:
        raise SignedRequestRejected(
            "wrong-challenge",
            "the file was prepared for another login attempt; download a new file and sign it",
        )
    if (document.findtext("a:ContextIdentifier/a:Nip", namespaces=ns) or "").strip() != context_nip:
        raise SignedRequestRejected("wrong-context", "the file names another company's NIP")
    if now - issued_at > CHALLENGE_TTL:
        raise SignedRequestRejected(
            "expired",
            "more than 10 minutes passed since the file was "
            "prepared; download a new one and sign it promptly",
        )
    cert_text = signatures[0].findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not cert_text:
        raise SignedRequestRejected(
            "no-certificate", "the signature does not include the signing certificate"
        )
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
        refs = len(signatures[0].findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference"))
        XAdESVerifier().verify(
            data,
            x509_cert=cert.public_bytes(serialization.Encoding.PEM),
            expect_references=max(refs, 2),
        )
    except (InvalidSignature, InvalidInput, ValueError) as exc:
        raise SignedRequestRejected(
            "broken-signature",
            f"the signature does not match the file (was it changed after signing?): {exc}",
        ) from None
    return CheckedRequest(challenge, context_nip, cert.subject.rfc4514_string())


@dataclass(frozen=True)
class Seal:
    private_key_pem: bytes
    certificate_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)


def load_seal(data: bytes, password: str | None, fmt: str) -> Seal:
    """A seal from PKCS#12 (with its password) or from PEM (key and certificate together)."""
    secret = password.encode() if password else None
    key: object = None
    cert: x509.Certificate | None = None
    try:
        if fmt == "pkcs12":
            key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
        else:
            key = serialization.load_pem_private_key(data, secret)
            cert = x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed.single(
            "file", f"cannot read the seal: {exc}. Check the file and its password"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) or cert is None:
        raise ValidationFailed.single("file", "the file holds no private key and certificate")
    return Seal(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM),
    )


_SEAL_NIP = re.compile(r"(VATPL).*?(\d{10})")


def seal_problem(seal: Seal, owner_nip: str) -> str | None:
    """Why ``seal`` is not the seal of the company with ``owner_nip``, if it is not.

    KSeF reads a seal's company from organizationIdentifier (``VATPL-<NIP>``) and refuses a
    seal that names a person; the private key must be the certificate's.
    """
    cert = seal.certificate
    names = cert.subject
    if names.get_attributes_for_oid(NameOID.GIVEN_NAME) or names.get_attributes_for_oid(
        NameOID.SURNAME
    ):
        return "the certificate names a person (givenName, surname): it is not a company seal"
    identifiers = [
        str(a.value) for a in names.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    ]
    found = next((m.group(2) for v in identifiers if (m := _SEAL_NIP.search(v))), None)
    if found is None:
        return (
            "the certificate carries no organizationIdentifier VATPL-<NIP>, by which KSeF "
            "recognises a company's seal"
        )
    if found != owner_nip:
        return (
            f"the seal's certificate belongs to the company with NIP {found} "
            f"({names.rfc4514_string()[:200]}), not to this bureau (NIP {owner_nip})"
        )
    key = serialization.load_pem_private_key(seal.private_key_pem, None)
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return "the private key in the file is not the key of its certificate"
    return None


def sign_with_seal(document: bytes, seal: Seal) -> bytes:
    root = parse(document)
    signer = XAdESSigner(
        method=methods.enveloped, signature_algorithm="rsa-sha256", digest_algorithm="sha256"
    )
    signed = signer.sign(root, key=seal.private_key_pem, cert=seal.certificate_pem.decode())
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
