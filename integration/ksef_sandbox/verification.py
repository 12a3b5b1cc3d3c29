"""The verification page that KOD I points at: ``/invoice/{seller NIP}/{DD-MM-RRRR}/{SHA-256
of the file, base64url}``, answering, as KSeF's page does, whether KSeF holds that invoice
(its number, seller, dates and amount) or not. HTML for people, JSON when asked for."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from html import escape

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from integration.ksef_sandbox.state import Invoice, Store

bp = Blueprint("ksef_verification", __name__)


def _standard_hash(b64url: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(b64url + "=" * (-len(b64url) % 4))
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode() if len(raw) == 32 else None


@bp.get("/invoice/<nip>/<issued>/<digest>")
def verify(nip: str, issued: str, digest: str) -> Response | tuple[Response, int]:
    store: Store = current_app.extensions["ksef_sandbox.store"]
    wanted = _standard_hash(digest)
    try:
        day = dt.datetime.strptime(issued, "%d-%m-%Y").replace(tzinfo=dt.UTC).date()
    except ValueError:
        day = None
    found = None
    if wanted and day and nip.isdigit() and len(nip) == 10:
        with store.session() as s:
            row = s.scalar(
                sa.select(Invoice).where(
                    Invoice.seller_nip == nip,
                    Invoice.invoice_hash == wanted,
                    Invoice.ksef_number.is_not(None),
                )
            )
            meta = dict(row.meta or {}) if row is not None else {}
            if row is not None and meta.get("issueDate", day.isoformat()) == day.isoformat():
                found = {
                    "ksefNumber": row.ksef_number,
                    "invoiceNumber": row.invoice_number,
                    "sellerNip": row.seller_nip,
                    "issueDate": meta.get("issueDate"),
                    "acquisitionDate": row.acquisition_date.isoformat()
                    if row.acquisition_date
                    else None,
                    "grossAmount": meta.get("grossAmount"),
                    "currency": meta.get("currency"),
                }
    if request.accept_mimetypes.best == "application/json":
        return (jsonify({"found": found is not None, "invoice": found}), 200 if found else 404)
    if found is None:
        page = ("<h1>Nie znaleziono faktury w KSeF</h1><p>Faktura o tych danych nie została "
                "przesłana do KSeF albo kod QR jest nieprawidłowy.</p>")  # fmt: skip
        return Response(_html(page), status=404, mimetype="text/html")
    rows = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(str(found[key] or '—'))}</td></tr>"
        for label, key in (("Numer KSeF", "ksefNumber"), ("Numer faktury", "invoiceNumber"),
                           ("NIP sprzedawcy", "sellerNip"), ("Data wystawienia", "issueDate"),
                           ("Data przyjęcia w KSeF", "acquisitionDate"),
                           ("Kwota brutto", "grossAmount"), ("Waluta", "currency"))
    )  # fmt: skip
    return Response(
        _html(f"<h1>Faktura jest w KSeF</h1><table>{rows}</table>"), mimetype="text/html"
    )


def _html(body: str) -> str:
    head = '<meta charset="utf-8"><title>Weryfikacja faktury · KSeF (lokalny)</title>'
    return f'<!doctype html><html lang="pl"><head>{head}</head><body>{body}</body></html>'
