"""A client's invoices (send, follow live, retry, download costs, move), the documents, the
register, and the bureau's list of every client's invoices."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, jsonify, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.core import i18n
from integration.core.errors import ValidationFailed
from integration.core.i18n import _, ngettext
from integration.invoices import archive, inbox, packages, pdf, qr, registers
from integration.invoices import service as invoice_service
from integration.invoices.models import Channel, Invoice
from integration.licensing import service as licensing
from integration.web import labels
from integration.web.common import (
    PAGE_ROWS,
    Outcome,
    Page,
    act,
    actor,
    bp,
    day,
    download,
    page_number,
    show,
    signed_in,
    upload,
)

DIRECTIONS = {"sales": "sales", "cost": "cost"}
_PACKAGE_KEY = "package:{client_id}"


def _direction() -> str:
    chosen = request.args.get("direction", "sales")
    return chosen if chosen in DIRECTIONS else "sales"


def invoice_filter(direction: str | None) -> invoice_service.InvoiceFilter:
    """The search typed above an invoice list (a bad date is left out, not refused)."""
    return invoice_service.InvoiceFilter(
        direction=direction,
        q=request.args.get("q", "").strip()[:100] or None,
        issued_from=day(request.args.get("issued_from")),
        issued_to=day(request.args.get("issued_to")),
    )


@bp.route("/clients/<int:client_id>/invoices", methods=["GET", "POST"])
@signed_in
def invoices(client_id: int) -> Page:
    """A client's invoices: send one, see where each stands, UPOs, sync, move as a ZIP."""
    who = actor()
    client = accounts.get_client(who, client_id)
    outcome: Outcome | BaseResponse | None = None
    if request.method == "POST":
        outcome = act(lambda action: _action(who, client_id, action))
        if isinstance(outcome, BaseResponse):
            return outcome
    direction = _direction()
    search = invoice_filter(direction)
    page = invoice_service.list_invoices(
        who, client_id, page=page_number(), per_page=PAGE_ROWS, **asdict(search)
    )
    package = session.get(_PACKAGE_KEY.format(client_id=client_id))
    return show(
        "invoices/list.html",
        outcome,
        client=client,
        page=page,
        search=search,
        direction=direction,
        state=licensing.states_for([client]).get(client.id),
        may_send=invoice_service.may_send(who, client),
        decides=who.works_for_bureau(client.bureau_id),
        imports=who.works_for_bureau(client.bureau_id) or who.administers_client(client),
        sync=invoice_service.cost_sync_status(who, client_id),
        package=len(package) if isinstance(package, list) else 0,
        filtered=bool(search.q or search.issued_from or search.issued_to),
    )


def _action(who: Actor, client_id: int, action: str) -> str:
    if action == "send":
        sent = invoice_service.submit(who, client_id, upload())
        if sent.channel == Channel.BATCH:
            return _(
                "Invoice %(number)s has an attachment (Zalacznik), which KSeF takes only in a "
                "batch session: it is sent in a package. Its KSeF number and UPO appear here.",
                number=sent.number,
            )
        return _(
            "Invoice %(number)s is queued for KSeF; its KSeF number and UPO follow.",
            number=sent.number,
        )
    if action == "package":
        queued = packages.submit_package(who, client_id, upload())
        session[_PACKAGE_KEY.format(client_id=client_id)] = [i.id for i in queued]
        return ngettext(
            "%(num)d invoice is queued for KSeF in one package.",
            "%(num)d invoices are queued for KSeF in one package.",
            len(queued),
        )
    if action == "retry":
        again = invoice_service.retry(who, client_id, int(request.form.get("invoice_id", "0")))
        return _("Invoice %(number)s is queued again.", number=again.number)
    if action == "sync":
        invoice_service.start_cost_sync(who, client_id)
        return _("Downloading new cost invoices from KSeF; they appear here by themselves.")
    if action == "import":
        result = archive.import_client(who, client_id, upload())
        return _(
            "Imported %(created)d invoice(s); %(skipped)d were already here.",
            created=result.created,
            skipped=result.skipped,
        )
    raise ValidationFailed.single("action", "unknown action")


def live_row(client_id: int, invoice: Invoice) -> dict[str, Any]:
    """What a page shows of an invoice's state, for the script that follows it."""
    label = labels.invoice_state(invoice.state.value, invoice.error_description)
    advice = labels.ksef_advice(invoice.error_code)
    reason = labels.reason(invoice.error_description) if invoice.state.value != "accepted" else ""
    return {
        "state": invoice.state.value,
        "label": str(label.text),
        "tone": label.tone,
        "explanation": str(label.explanation),
        "reason": " ".join(part for part in (reason, advice) if part),
        "ksef_number": invoice.ksef_number or "",
        "upo": (
            url_for("web.invoice_document", client_id=client_id, invoice_id=invoice.id, kind="upo")
            if invoice.upo
            else ""
        ),
        "settled": invoice.state.value in labels.SETTLED,
    }


@bp.get("/clients/<int:client_id>/invoices/live")
@signed_in
def invoices_live(client_id: int) -> Response:
    """The states of the invoices a page shows (``ids``), the package's progress and the
    cost download's: polled by the page until everything settled."""
    who = actor()
    ids = [int(v) for v in request.args.get("ids", "").split(",") if v.isdigit()]
    rows = {
        f"invoice-{i.id}": live_row(client_id, i)
        for i in invoice_service.invoices_by_id(who, client_id, ids)
    }
    body: dict[str, Any] = {"rows": rows}
    package = session.get(_PACKAGE_KEY.format(client_id=client_id))
    if isinstance(package, list) and package:
        counts = invoice_service.progress(who, client_id, package)
        done = sum(n for state, n in counts.items() if state in labels.SETTLED)
        body["progress"] = {
            "total": len(package),
            "done": done,
            "accepted": counts.get("accepted", 0),
            "text": _(
                "Package: %(done)d of %(total)d settled (%(accepted)d accepted).",
                done=done,
                total=len(package),
                accepted=counts.get("accepted", 0),
            ),
        }
    sync = invoice_service.cost_sync_status(who, client_id)
    body["sync"] = {
        "text": sync_text(sync),
        "error": labels.reason(sync.last_error),
    }
    return jsonify(body)


def sync_text(sync: invoice_service.CostSyncStatus) -> str:
    if sync.synced_until is None:
        return _("Cost invoices have not been downloaded yet.")
    return _(
        "Every cost invoice stored in KSeF up to %(moment)s is here (%(count)d downloaded so "
        "far); new ones are fetched every 15 minutes.",
        moment=i18n.format_moment(sync.synced_until),
        count=sync.downloaded,
    )


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>/<any(xml, upo):kind>")
@signed_in
def invoice_document(client_id: int, invoice_id: int, kind: str) -> Response:
    data, name = invoice_service.document(actor(), client_id, invoice_id, kind)
    return download(data, name, "application/xml")


@bp.get("/clients/<int:client_id>/invoices/archive.zip")
@signed_in
def invoice_archive(client_id: int) -> Response:
    data = archive.export_client(actor(), client_id)
    return download(data, f"invoices-{client_id}.zip", "application/zip")


@bp.get("/clients/<int:client_id>/invoices/register.<any(csv, xlsx):fmt>")
@signed_in
def invoice_register(client_id: int, fmt: str) -> Response:
    """The invoice list as on screen (direction and search), as a spreadsheet: CSV with ``;``
    and a BOM as Polish Excel opens it (``separator=comma`` for ``,``), or XLSX."""
    direction = request.args.get("direction")
    narrowed = invoice_filter(direction if direction in DIRECTIONS else None)
    separator = "," if request.args.get("separator") == "comma" else ";"
    data = registers.client_register(actor(), client_id, fmt, narrowed, separator=separator)
    return download(data, f"invoices-{client_id}.{fmt}", registers.MIMETYPES[fmt])


# ---------------------------------------------------------------------------- the bureau's inbox
VIEWS: dict[str, tuple[str | None, tuple[str, ...]]] = {  # direction, states
    "cost": ("cost", ()),
    "sales": ("sales", ()),
    "attention": (None, tuple(s.value for s in inbox.ATTENTION)),
}


@bp.get("/bureaus/<int:bureau_id>/invoices")
@signed_in
def bureau_invoices(bureau_id: int) -> Page:
    """Every client's invoices in one list: what arrived, what was sent, what failed."""
    who = actor()
    view = request.args.get("view", "cost")
    if view not in VIEWS:
        view = "cost"
    client_id = request.args.get("client_id", "")
    direction, states = VIEWS[view]
    search = request.args.get("q", "").strip()[:100]
    page = inbox.bureau_invoices(
        who,
        bureau_id,
        direction=direction,
        states=states,
        client_id=int(client_id) if client_id.isdigit() and int(client_id) < 2**31 else None,
        q=search or None,
        page=page_number(),
        per_page=PAGE_ROWS,
        counted=False,
    )
    clients = accounts.list_clients(who, bureau_id, per_page=200).items
    return show(
        "invoices/bureau.html",
        bureau_id=bureau_id,
        page=page,
        view=view,
        clients=clients,
        client_id=int(client_id) if client_id.isdigit() else None,
        search=search,
        attention=inbox.attention_count(who, bureau_id),
    )


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>")
@signed_in
def invoice_page(client_id: int, invoice_id: int) -> Page:
    """One invoice as a document, laid out like the Ministry's visualisation of FA(3), with
    KOD I, the KSeF number and date, its state and the UPO."""
    who = actor()
    shown = invoice_service.invoice_page(who, client_id, invoice_id)
    return show(
        "invoices/document.html",
        client=accounts.get_client(who, client_id),
        doc=shown,
        v=shown.view,
        i=shown.invoice,
        kod_svg=Markup(qr.svg(shown.kod_url)),  # noqa: S704 (segno's own SVG of our own URL)
        upo_facts=pdf.upo_facts(shown.upo) if shown.upo else [],
        state=labels.invoice_state(shown.invoice.state.value, shown.invoice.error_description),
    )


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>/pdf")
@signed_in
def invoice_pdf(client_id: int, invoice_id: int) -> Response:
    data, name = invoice_service.invoice_pdf(actor(), client_id, invoice_id)
    return download(data, name, "application/pdf")


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>/upo.pdf")
@signed_in
def invoice_upo_pdf(client_id: int, invoice_id: int) -> Response:
    data, name = invoice_service.upo_pdf(actor(), client_id, invoice_id)
    return download(data, name, "application/pdf")


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>/kod.<any(png, svg):fmt>")
@signed_in
def invoice_kod(client_id: int, invoice_id: int, fmt: str) -> Response:
    data = invoice_service.kod_image(actor(), client_id, invoice_id, fmt)
    return Response(data, mimetype="image/png" if fmt == "png" else "image/svg+xml")
