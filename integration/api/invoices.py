"""Invoices of a client: send sales invoices, read both directions, UPOs, archives, sync."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, pre_dump, validate

from integration.api.access import requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.docs import checked_beyond_the_schema, file_answer, file_body
from integration.api.schemas import PageArgs
from integration.core.errors import Text, ValidationFailed
from integration.invoices import archive, inbox, packages, registers
from integration.invoices import service as invoices
from integration.invoices.documents import MAX_INVOICE_WITH_ATTACHMENT_BYTES
from integration.invoices.models import Direction, State
from integration.licensing import service as licensing

blp = Blueprint(
    "invoices",
    __name__,
    url_prefix="/api/v1",
    description="Sales invoices sent to KSeF, cost invoices downloaded from it, UPOs",
)
blp.before_request(require_json_for_session_writes)


class InvoiceSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    direction = fields.String(metadata={"description": "sales or cost"})
    state = fields.String(
        metadata={"description": "queued, sending, processing, accepted, rejected or failed"}
    )
    source = fields.String(metadata={"description": "sent, synced or imported"})
    channel = fields.String(
        metadata={"description": "online (one by one) or batch (in a package of many)"}
    )
    number = fields.String(metadata={"description": "the invoice's own number (P_2)"})
    invoice_type = fields.String()
    issue_date = fields.Date()
    seller_nip = fields.String()
    seller_name = fields.String()
    buyer_identifier = fields.String(allow_none=True)
    buyer_name = fields.String()
    currency = fields.String()
    gross_amount = fields.Decimal(as_string=True)
    sha256 = fields.String()
    size = fields.Integer()
    ksef_number = fields.String(allow_none=True)
    acquired_at = fields.DateTime(allow_none=True)
    has_upo = fields.Function(lambda i: i.upo is not None)
    error_code = fields.Integer(allow_none=True)
    error_description = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _search() -> fields.String:
    return fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "part of the number, KSeF number, or a party's NIP or name"},
    )


class InvoiceFilterArgs(Schema):
    """What narrows a client's invoices (the fields of ``InvoiceFilter``)."""

    direction = fields.String(validate=validate.OneOf([d.value for d in Direction]))
    state = fields.String(validate=validate.OneOf([s.value for s in State]))
    q = _search()
    issued_from = fields.Date(metadata={"description": "issue date (P_1) on or after"})
    issued_to = fields.Date(metadata={"description": "issue date (P_1) on or before"})


class InvoiceListArgs(PageArgs, InvoiceFilterArgs):
    pass


class RegisterArgs(InvoiceFilterArgs):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx", "csv"]))


class QrArgs(Schema):
    format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg"]))


class InvoicePageSchema(Schema):
    items = fields.List(fields.Nested(InvoiceSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    licence = fields.Dict(
        allow_none=True, metadata={"description": "the client's licence state and days left"}
    )


class ArchiveImportSchema(Schema):
    created = fields.Integer()
    skipped = fields.Integer(metadata={"description": "already present with the same content"})


class PackageSchema(Schema):
    queued = fields.Integer(metadata={"description": "how many invoices the package held"})
    items = fields.List(fields.Nested(InvoiceSchema))


class BureauInvoiceArgs(PageArgs):
    direction = fields.String(validate=validate.OneOf([d.value for d in Direction]))
    state = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in State])),
        load_default=list,
        metadata={"description": "repeat for several, e.g. state=failed&state=rejected"},
    )
    client_id = fields.Integer(load_default=None)
    received_from = fields.AwareDateTime(
        load_default=None, metadata={"description": "received by Delegat at or after"}
    )
    q = _search()


class _Flat:
    """An inbox item read as its invoice plus the client's name."""

    def __init__(self, item: inbox.InboxItem) -> None:
        self._item = item

    def __getattr__(self, name: str) -> Any:
        if name == "client_name":
            return self._item.client_name
        return getattr(self._item.invoice, name)


class BureauInvoiceSchema(InvoiceSchema):
    client_name = fields.String()

    @pre_dump
    def _flatten(self, item: inbox.InboxItem, **_: Any) -> _Flat:
        return _Flat(item)


class BureauInvoicePageSchema(Schema):
    items = fields.List(fields.Nested(BureauInvoiceSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    counts = fields.Dict(
        metadata={"description": "for the whole bureau: direction -> state -> how many"}
    )


class CostSyncStatusSchema(Schema):
    synced_until = fields.DateTime(
        allow_none=True,
        metadata={"description": "every cost invoice stored in KSeF up to then is here"},
    )
    last_run_at = fields.DateTime(allow_none=True)
    last_error = fields.String(metadata={"description": "why the last run stopped, if it did"})
    downloaded = fields.Integer(metadata={"description": "cost invoices downloaded so far"})


class SyncStateSchema(Schema):
    queued = fields.Boolean()


def _body(limit: int, what: str) -> bytes:
    if not request.content_length:
        raise ValidationFailed.single(
            "file", Text("send the %(what)s as the request body", what=what)
        )
    request.max_content_length = limit
    if request.content_length > limit:
        raise ValidationFailed.single(
            "file", Text("the %(what)s exceeds %(limit)d bytes", what=what, limit=limit)
        )
    return request.get_data()


def _file(data: bytes, name: str, mimetype: str) -> Response:
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@blp.route("/clients/<int:client_id>/invoices")
class Invoices(MethodView):
    @blp.arguments(InvoiceListArgs, location="query")
    @blp.response(200, InvoicePageSchema)
    @requires("invoices:read")
    def get(self, args: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Invoices of the client, newest issue date first, with the client's licence state."""
        page = invoices.list_invoices(current_actor(), client_id, **args)
        return {
            "items": page.items,
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "licence": (
                state.as_dict()
                if (state := licensing.states_for([page.client]).get(client_id))
                else None
            ),
        }

    @blp.response(202, InvoiceSchema)
    @file_body("the FA(3) invoice (XML)", "application/xml")
    @checked_beyond_the_schema("FA(3) schema", "KSeF's rules: seller, issue date, one number once")
    @requires("invoices:write")
    def post(self, client_id: int) -> Any:
        """Queue a sales invoice (FA(3) XML as the body) for KSeF; poll it for the outcome.

        An invoice with an attachment (Zalacznik) goes in a batch session (``channel: batch``),
        the only way KSeF takes it; ``error_description`` says so."""
        data = _body(MAX_INVOICE_WITH_ATTACHMENT_BYTES, "invoice")
        return invoices.submit(current_actor(), client_id, data)


@blp.route("/bureaus/<int:bureau_id>/invoices")
@blp.arguments(BureauInvoiceArgs, location="query")
@blp.response(200, BureauInvoicePageSchema)
@requires("invoices:read")
def bureau_invoices(args: dict[str, Any], bureau_id: int) -> Any:
    """Invoices of every client of the bureau, the most recently received first."""
    return inbox.bureau_invoices(
        current_actor(),
        bureau_id,
        direction=args.get("direction"),
        states=args["state"],
        client_id=args["client_id"],
        received_from=args["received_from"],
        q=args["q"],
        page=args["page"],
        per_page=args["per_page"],
    )


@blp.route("/clients/<int:client_id>/invoices/register")
@blp.arguments(RegisterArgs, location="query")
@blp.response(200, description="the register of invoices as XLSX or CSV")
@file_answer(
    "the register of invoices",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/csv",
)
@requires("invoices:read")
def invoice_register(args: dict[str, Any], client_id: int) -> Response:
    """The client's invoices, narrowed like the list, as a spreadsheet (oldest first)."""
    fmt = args.pop("format")
    data = registers.client_register(
        current_actor(), client_id, fmt, invoices.InvoiceFilter(**args)
    )
    return _file(data, f"invoices-{client_id}.{fmt}", registers.MIMETYPES[fmt])


@blp.route("/clients/<int:client_id>/invoices/packages", methods=["POST"])
@blp.response(202, PackageSchema)
@file_body("a ZIP of FA(3) invoices", "application/zip")
@checked_beyond_the_schema("each file as a single invoice")
@requires("invoices:write")
def send_package(client_id: int) -> dict[str, Any]:
    """Queue many sales invoices at once: a ZIP of FA(3) files (the body), sent to KSeF in one
    batch session. Every file is checked first; with any problem none is queued."""
    data = _body(packages.MAX_UPLOAD_BYTES, "package")
    rows = packages.submit_package(current_actor(), client_id, data)
    return {"queued": len(rows), "items": rows}


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>")
@blp.response(200, InvoiceSchema)
@requires("invoices:read")
def get_invoice(client_id: int, invoice_id: int) -> Any:
    return invoices.get_invoice(current_actor(), client_id, invoice_id)


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/xml")
@blp.response(200, description="the invoice as sent or received")
@file_answer("the invoice as sent or received", "application/xml")
@requires("invoices:read")
def invoice_xml(client_id: int, invoice_id: int) -> Response:
    data, name = invoices.document(current_actor(), client_id, invoice_id, "xml")
    return _file(data, name, "application/xml")


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/upo")
@blp.response(200, description="the UPO (official receipt) of a sent invoice")
@file_answer("the UPO (official receipt) of a sent invoice", "application/xml")
@requires("invoices:read")
def invoice_upo(client_id: int, invoice_id: int) -> Response:
    data, name = invoices.document(current_actor(), client_id, invoice_id, "upo")
    return _file(data, name, "application/xml")


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/pdf")
@blp.response(200, description="the invoice as a document (PDF)")
@file_answer("the invoice as a document, with KOD I", "application/pdf")
@requires("invoices:read")
def invoice_pdf(client_id: int, invoice_id: int) -> Response:
    """The invoice laid out like the Ministry's visualisation of FA(3), with KOD I."""
    data, name = invoices.invoice_pdf(current_actor(), client_id, invoice_id)
    return _file(data, name, "application/pdf")


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/upo.pdf")
@blp.response(200, description="the UPO as a document (PDF)")
@file_answer("the UPO of a sent invoice, as a document", "application/pdf")
@requires("invoices:read")
def invoice_upo_pdf(client_id: int, invoice_id: int) -> Response:
    """Who received the invoice, when, in which session and context, with its hash."""
    data, name = invoices.upo_pdf(current_actor(), client_id, invoice_id)
    return _file(data, name, "application/pdf")


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/qr")
@blp.arguments(QrArgs, location="query")
@blp.response(200, description="KOD I: the QR code that verifies the invoice in KSeF")
@file_answer("KOD I, the invoice's QR code", "image/png", "image/svg+xml")
@requires("invoices:read")
def invoice_qr(args: dict[str, Any], client_id: int, invoice_id: int) -> Response:
    """KOD I of the invoice: ``{KSeF's QR host}/invoice/{seller NIP}/{DD-MM-RRRR}/{SHA-256}``
    as PNG or SVG, for printing it on the invoice handed over outside KSeF."""
    fmt = args["format"]
    data = invoices.kod_image(current_actor(), client_id, invoice_id, fmt)
    mimetype = "image/png" if fmt == "png" else "image/svg+xml"
    return Response(data, mimetype=mimetype)


@blp.route("/clients/<int:client_id>/invoices/<int:invoice_id>/retry", methods=["POST"])
@blp.response(202, InvoiceSchema)
@requires("invoices:write")
def retry_invoice(client_id: int, invoice_id: int) -> Any:
    """Queue a failed invoice again."""
    return invoices.retry(current_actor(), client_id, invoice_id)


@blp.route("/clients/<int:client_id>/invoices/sync")
class CostSync(MethodView):
    @blp.response(200, CostSyncStatusSchema)
    @requires("invoices:read")
    def get(self, client_id: int) -> Any:
        """How far the download of cost invoices got and how its last run went."""
        return invoices.cost_sync_status(current_actor(), client_id)

    @blp.response(202, SyncStateSchema)
    @requires("invoices:write")
    def post(self, client_id: int) -> dict[str, bool]:
        """Download new cost invoices from KSeF now (also runs periodically)."""
        invoices.start_cost_sync(current_actor(), client_id)
        return {"queued": True}


@blp.route("/clients/<int:client_id>/invoices/archive")
class Archive(MethodView):
    @blp.response(200, description="a ZIP of the client's KSeF invoices with their UPOs")
    @file_answer("a ZIP of the client's KSeF invoices with their UPOs", "application/zip")
    @requires("invoices:read")
    def get(self, client_id: int) -> Response:
        data = archive.export_client(current_actor(), client_id)
        return _file(data, f"invoices-{client_id}.zip", "application/zip")

    @blp.response(200, ArchiveImportSchema)
    @file_body("an archive of invoices exported by Delegat", "application/zip")
    @checked_beyond_the_schema("each invoice, its UPO and hash")
    @requires("invoices:write")
    def post(self, client_id: int) -> dict[str, int]:
        """Import an archive (the body); it is checked whole before anything is written."""
        data = _body(archive.MAX_ARCHIVE_BYTES, "archive")
        result = archive.import_client(current_actor(), client_id, data)
        return {"created": result.created, "skipped": result.skipped}
