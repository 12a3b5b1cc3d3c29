"""Words the pages show for the service's codes: states with a colour and a line of
explanation, KSeF's codes with what to do next, roles, kinds and field names.

Message ids are English; the catalogs give them in Polish (lazy, so each request gets its own
language)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import LazyString

from integration.core import i18n
from integration.core.i18n import lazy as _l
from integration.invoices.sending import WAITING


@dataclass(frozen=True)
class Label:
    text: LazyString
    tone: str  # ok | wait | warn | bad | off: the colour of the badge
    explanation: LazyString


INVOICE_STATES: dict[str, Label] = {
    "queued": Label(_l("Queued"), "wait", _l("Waiting for its turn to be sent to KSeF.")),
    "sending": Label(_l("Sending"), "wait", _l("Being sent to KSeF right now.")),
    "processing": Label(
        _l("In KSeF"),
        "wait",
        _l("KSeF has the invoice and is checking it; its KSeF number follows."),
    ),
    "accepted": Label(
        _l("Accepted"), "ok", _l("KSeF accepted the invoice and gave it a number and a UPO.")
    ),
    "rejected": Label(
        _l("Rejected"),
        "bad",
        _l("KSeF refused the invoice. Correct the document and send it again."),
    ),
    "failed": Label(
        _l("Not sent"),
        "bad",
        _l("The service could not send it (access to KSeF, say). Fix the cause and send again."),
    ),
}
WAITING_FOR_TOP_UP = Label(
    _l("Waiting for a package top-up"),
    "warn",
    _l("The bureau's KSeF package is used up; sending resumes by itself after a top-up."),
)
SETTLED = frozenset({"accepted", "rejected", "failed"})

GRANT_STATES: dict[str, Label] = {
    "pending": Label(_l("Being granted"), "wait", _l("On its way to KSeF; KSeF confirms shortly.")),
    "active": Label(_l("Active"), "ok", _l("KSeF holds this right.")),
    "revoking": Label(_l("Being revoked"), "wait", _l("KSeF is taking the right away.")),
    "revoked": Label(_l("Revoked"), "off", _l("The right no longer exists in KSeF.")),
    "failed": Label(_l("Refused by KSeF"), "bad", _l("KSeF did not grant it; see the reason.")),
}
GRANT_SETTLED = frozenset({"active", "revoked", "failed"})

CREDENTIAL_STATES: dict[str, Label] = {
    "pending": Label(_l("Being checked"), "wait", _l("KSeF is confirming it.")),
    "active": Label(_l("Working"), "ok", _l("The service can work in KSeF for this client.")),
    "broken": Label(
        _l("Not working"), "bad", _l("KSeF refused it; store a new token or sign again.")
    ),
    "revoked": Label(_l("Revoked"), "off", _l("It was revoked and is no longer used.")),
    "expired": Label(_l("Expired"), "off", _l("It expired; store a new token or sign again.")),
}
CREDENTIAL_KINDS = {
    "ksef_token": _l("KSeF token"),
    "session": _l("KSeF session (signature)"),
    "seal": _l("Bureau seal"),
}
RIGHTS = {
    "InvoiceRead": _l("read invoices"),
    "InvoiceWrite": _l("send invoices"),
    "CredentialsRead": _l("read rights"),
    "CredentialsManage": _l("manage rights"),
    "Introspection": _l("view sessions"),
}
ROLES = {
    "platform_admin": _l("platform admin"),
    "bureau_admin": _l("bureau admin"),
    "accountant": _l("accountant"),
    "client_admin": _l("client admin"),
    "client_user": _l("client user"),
}
REGISTRATION = {
    "registered": Label(_l("Registered"), "ok", _l("Counted against the licence.")),
    "grace": Label(_l("Not registered"), "warn", _l("Register it before the days left run out.")),
    "read_only": Label(
        _l("Read-only"), "off", _l("Not registered: nothing can be sent for it until it is.")
    ),
}
LEDGER = {
    "send": _l("invoice accepted by KSeF"),
    "download": _l("cost invoice downloaded"),
    "top_up": _l("top-up"),
    "reserve": _l("reserved for sending"),
    "release": _l("reservation released"),
}

# KSeF's per-invoice codes (open-api.json, SessionInvoiceStatusResponse) and what to do next
KSEF_CODES: dict[int, LazyString] = {
    405: _l("The KSeF session failed; the invoice was not processed. Send it again."),
    410: _l(
        "The seller's NIP cannot be invoiced from this KSeF context: check that the invoice "
        "belongs to this client and that the client granted the right to send."
    ),
    415: _l(
        "KSeF accepts invoices with an attachment only in a batch package and only with the "
        "taxpayer's consent (e-Urząd Skarbowy)."
    ),
    430: _l(
        "The file does not match the FA(3) schema. Correct it in the program it comes from "
        "and send it again."
    ),
    435: _l("KSeF could not decrypt the invoice. Send it again."),
    440: _l("KSeF already holds an invoice with this number from this seller."),
    450: _l(
        "KSeF's checks found an error in the content (dates, NIP numbers). Correct the "
        "invoice and send it again."
    ),
    500: _l("An unknown KSeF error. Send it again later."),
    550: _l("KSeF cancelled the operation. Send it again."),
}

FIELDS = {
    "nip": _l("NIP"),
    "name": _l("Name"),
    "email": _l("E-mail"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "pesel": _l("PESEL"),
    "role": _l("Role"),
    "file": _l("File"),
    "token": _l("KSeF token"),
    "identifier": _l("PESEL or NIP"),
    "rights": _l("Rights"),
    "password": _l("Password"),
    "new_password": _l("New password"),
    "current_password": _l("Current password"),
    "number": _l("Licence number"),
    "country": _l("Country"),
    "address": _l("Address"),
    "unit": _l("Unit"),
    "vat_rate": _l("VAT rate"),
    "net_price": _l("Net price"),
    "display_name": _l("Display name"),
    "scopes": _l("Scopes"),
}


def field(name: str) -> str:
    found = FIELDS.get(name)
    return str(found) if found is not None else name


def invoice_state(code: str, reason: str | None = None) -> Label:
    if code == "queued" and reason == WAITING:
        return WAITING_FOR_TOP_UP
    return INVOICE_STATES.get(code) or Label(_l("Unknown"), "off", _l("Unknown state."))


def grant_state(code: str) -> Label:
    return GRANT_STATES.get(code) or Label(_l("Unknown"), "off", _l("Unknown state."))


def credential_state(code: str) -> Label:
    return CREDENTIAL_STATES.get(code) or Label(_l("Unknown"), "off", _l("Unknown state."))


def ksef_advice(code: int | str | None) -> str:
    """What KSeF's code means for the person and what to do next (empty when unknown)."""
    try:
        found = KSEF_CODES.get(int(code)) if code not in (None, "") else None
    except (TypeError, ValueError):
        found = None
    return str(found) if found is not None else ""


def reason(text: str | None) -> str:
    """A stored reason (an error KSeF or the service gave) in the page's language."""
    if not text or text == WAITING:  # the state's label says it already
        return ""
    return i18n.translate(text)


# The titles of problems (pages show them in the page's language; the API keeps them as they are)
PROBLEM_TITLES = (
    _l("The request cannot be processed"),
    _l("The submitted data is not valid"),
    _l("The resource does not exist"),
    _l("You may not do this"),
    _l("Sign in or present a valid bearer token"),
    _l("The request conflicts with the current state"),
    _l("The client is read-only until registered"),
    _l("Not Found"),
    _l("Bad Request"),
    _l("Forbidden"),
    _l("Something went wrong on our side; quote the request id when reporting it."),
)
