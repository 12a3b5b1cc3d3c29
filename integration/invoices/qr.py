"""KOD I, the QR code every invoice handed over outside KSeF carries: a link to KSeF's page
that verifies it, ``{base}/invoice/{seller NIP}/{P_1 as DD-MM-RRRR}/{SHA-256 of the file,
base64url}``, with the KSeF number under the code (``OFFLINE`` before there is one).

The base follows the KSeF in use: production, demo and test have their QR hosts; the local
sandbox answers the same path itself.
"""

from __future__ import annotations

import base64
import io
from datetime import date
from urllib.parse import urlsplit

import segno

QR_HOSTS = {
    "api.ksef.mf.gov.pl": "https://qr.ksef.mf.gov.pl",
    "api-demo.ksef.mf.gov.pl": "https://qr-demo.ksef.mf.gov.pl",
    "api-test.ksef.mf.gov.pl": "https://qr-test.ksef.mf.gov.pl",
}
OFFLINE = "OFFLINE"


def qr_base(ksef_base_url: str) -> str:
    """The verification host of the KSeF at ``ksef_base_url`` (another, such as the local
    sandbox, answers at its own root)."""
    parts = urlsplit(ksef_base_url)
    known = QR_HOSTS.get(parts.hostname or "")
    return known or f"{parts.scheme}://{parts.netloc}"


def verification_url(base: str, seller_nip: str, issued: date, sha256_b64: str) -> str:
    """KOD I's link for a file whose SHA-256 is ``sha256_b64`` (standard base64, as KSeF's
    ``invoiceHash``)."""
    digest = base64.b64decode(sha256_b64)
    token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"{base.rstrip('/')}/invoice/{seller_nip}/{issued:%d-%m-%Y}/{token}"


def svg(url: str) -> str:
    """The code as inline SVG (no script, no style attribute: it passes a strict CSP)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=3, border=2, xmldecl=False, svgns=True, nl=False, title=url
    )
    return out.getvalue().decode()


def png(url: str, scale: int = 5) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
