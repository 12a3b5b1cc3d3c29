"""Checks of a signed AuthTokenRequest, in the order and with the codes KSeF uses."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.xades import XAdESVerifier  # type: ignore[attr-defined]

from integration.ksef_sandbox import schemas
from integration.ksef_sandbox.errors import KsefError

DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_DOCUMENT_BYTES = 64 * 1024
_PERSON_SERIAL = re.compile(r"(PNOPL|PESEL).*?(\d{11})|(TINPL|NIP).*?(\d{10})")
_SEAL_ID = re.compile(r"(VATPL).*?(\d{10})")


@dataclass(frozen=True)
class SignedRequest:
    namespace: str
    challenge: str
    context_type: str
    context_value: str
    subject_identifier_type: str
    allowed_ips: dict[str, list[str]] | None
    certificate: x509.Certificate
    document_hash: str


def _parse(body: bytes) -> etree._Element:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise KsefError(21217, "Nieprawidłowe kodowanie znaków.") from None
    if len(body) > MAX_DOCUMENT_BYTES or b"<!DOCTYPE" in body.upper():
        raise KsefError(21001, "Nieczytelna treść.", ["document too large or carries a DTD"])
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise KsefError(21001, "Nieczytelna treść.", [str(exc)]) from None


def verify(body: bytes) -> SignedRequest:
    root = _parse(body)
    signatures = root.findall(f".//{{{DS}}}Signature")
    if root.tag == f"{{{DS}}}Signature":
        signatures = [root, *signatures]
    if not signatures:
        raise KsefError(9102, "Brak podpisu.")
    if len(signatures) > 1:
        raise KsefError(9103, "Przekroczona liczba dozwolonych podpisów.")
    signature = signatures[0]
    document = root
    if root.tag == f"{{{DS}}}Signature":  # enveloping: the request sits inside ds:Object
        inner = root.find(f"{{{DS}}}Object/*")
        if inner is None:
            raise KsefError(9101, "Nieprawidłowy dokument.")
        document = inner
    namespace = etree.QName(document).namespace or ""
    if (
        etree.QName(document).localname != "AuthTokenRequest"
        or namespace not in schemas.AUTH_NAMESPACES
    ):
        raise KsefError(
            21401,
            "Dokument nie jest zgodny ze schemą (xsd).",
            ["root element must be AuthTokenRequest"],
        )
    unsigned = copy.deepcopy(document)
    for sig in unsigned.findall(f".//{{{DS}}}Signature"):
        parent = sig.getparent()
        if parent is not None:
            parent.remove(sig)
    schema = schemas.auth_token_request(namespace)
    if not schema.validate(unsigned):
        raise KsefError(
            21401,
            "Dokument nie jest zgodny ze schemą (xsd).",
            [str(e.message) for e in schema.error_log.filter_from_errors()][:5],  # type: ignore[attr-defined]
        )

    cert_text = signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not cert_text:
        raise KsefError(9105, "Nieprawidłowy podpis.", ["no X509Certificate in KeyInfo"])
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
    except ValueError:
        raise KsefError(21115, "Nieprawidłowy certyfikat.") from None
    _check_key(cert)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if any(
        not (r.get("URI") or "").startswith("#") and r.get("URI") not in ("", None)
        for r in references
    ):
        raise KsefError(9105, "Nieprawidłowy podpis.", ["detached signatures are not accepted"])
    try:
        results = XAdESVerifier().verify(
            body, x509_cert=pem, expect_references=max(len(references), 2)
        )
    except (InvalidSignature, InvalidInput) as exc:
        raise KsefError(9105, "Nieprawidłowy podpis.", [str(exc)]) from None
    if not any(getattr(r, "signed_properties", None) is not None for r in results):
        raise KsefError(9105, "Nieprawidłowy podpis.", ["XAdES SignedProperties missing"])

    def text(path: str) -> str | None:
        return unsigned.findtext(path, namespaces={"a": namespace})

    ctx = unsigned.find("a:ContextIdentifier/*", namespaces={"a": namespace})
    assert ctx is not None
    policy = None
    allowed = unsigned.find("a:AuthorizationPolicy/a:AllowedIps", namespaces={"a": namespace})
    if allowed is not None:
        policy = {
            key: [e.text or "" for e in allowed.findall(f"a:{tag}", namespaces={"a": namespace})]
            for key, tag in (
                ("ip4Addresses", "Ip4Address"),
                ("ip4Ranges", "Ip4Range"),
                ("ip4Masks", "Ip4Mask"),
            )
        }
    return SignedRequest(
        namespace=namespace,
        challenge=text("a:Challenge") or "",
        context_type=etree.QName(ctx).localname,
        context_value=(ctx.text or "").strip(),
        subject_identifier_type=text("a:SubjectIdentifierType") or "",
        allowed_ips=policy,
        certificate=cert,
        document_hash=base64.b64encode(hashlib.sha256(body).digest()).decode(),
    )


def _check_key(cert: x509.Certificate) -> None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 256:
        return
    raise KsefError(21115, "Nieprawidłowy certyfikat.", ["key too weak: RSA ≥ 2048 or EC ≥ 256"])


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


@dataclass(frozen=True)
class CertIdentity:
    type: str  # Nip | Pesel | Fingerprint
    value: str
    name: str
    method: str  # QualifiedSignature | QualifiedSeal


def identity(request: SignedRequest) -> CertIdentity:
    """Who signed, read as KSeF reads it (21115 when the certificate names nobody)."""
    cert = request.certificate
    subject = cert.subject

    def attr(oid: x509.ObjectIdentifier) -> str | None:
        values = subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    given, surname = attr(NameOID.GIVEN_NAME), attr(NameOID.SURNAME)
    organization_id = attr(NameOID.ORGANIZATION_IDENTIFIER)
    common = attr(NameOID.COMMON_NAME) or ""
    is_seal = organization_id is not None or attr(NameOID.ORGANIZATION_NAME) is not None
    method = "QualifiedSeal" if is_seal and not (given or surname) else "QualifiedSignature"
    if request.subject_identifier_type == "certificateFingerprint":
        return CertIdentity("Fingerprint", fingerprint(cert), common, method)
    if given or surname:
        match = _PERSON_SERIAL.search(attr(NameOID.SERIAL_NUMBER) or "")
        if match and match.group(2):
            return CertIdentity("Pesel", match.group(2), common, method)
        if match and match.group(4):
            return CertIdentity("Nip", match.group(4), common, method)
        raise KsefError(
            21115,
            "Nieprawidłowy certyfikat.",
            ["serialNumber carries neither PNOPL/PESEL nor TINPL/NIP"],
        )
    if organization_id:
        seal = _SEAL_ID.search(organization_id)
        if seal:
            return CertIdentity("Nip", seal.group(2), common, method)
    raise KsefError(21115, "Nieprawidłowy certyfikat.", ["the certificate names no subject"])
