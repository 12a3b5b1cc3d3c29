"""Master data of a client: counterparties and products, one entry at a time or as files."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.accounts.service import Page
from integration.api.access import requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.docs import checked_beyond_the_schema, file_answer, file_body
from integration.api.schemas import PageArgs
from integration.core.errors import ValidationFailed
from integration.masterdata import service as masterdata

blp = Blueprint(
    "masterdata",
    __name__,
    url_prefix="/api/v1",
    description="Counterparties and products of a client: learnt from invoices, edited, moved",
)
blp.before_request(require_json_for_session_writes)

_SOURCE = "invoice (learnt from the client's invoices), manual or file"
_MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class CounterpartySchema(Schema):
    id = fields.Integer(dump_only=True)
    nip = fields.String(allow_none=True, metadata={"description": "Polish NIP, if it has one"})
    name = fields.String()
    country = fields.String(metadata={"description": "two-letter code, PL by default"})
    address = fields.String()
    email = fields.String(allow_none=True)
    source = fields.String(dump_only=True, metadata={"description": _SOURCE})
    updated_at = fields.DateTime(dump_only=True)


class ProductSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    unit = fields.String(metadata={"description": "szt. by default"})
    vat_rate = fields.String(
        metadata={"description": "23, 8, 5, 0 KR, 0 WDT, 0 EX, zw, oo, np I, np II, ..."}
    )
    net_price = fields.Decimal(as_string=True, metadata={"description": "net unit price"})
    source = fields.String(dump_only=True, metadata={"description": _SOURCE})
    updated_at = fields.DateTime(dump_only=True)


class CounterpartyCreateSchema(CounterpartySchema):
    name = fields.String(required=True)


class ProductCreateSchema(ProductSchema):
    name = fields.String(required=True)


class RecordListArgs(PageArgs):
    q = fields.String(load_default=None, metadata={"description": "part of the name or NIP"})


class FormatArgs(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


def _page(page: Page[masterdata.Record]) -> dict[str, Any]:
    return {
        "items": page.items,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


def _register(kind: str, item: type[Schema], created: type[Schema]) -> None:
    """The list/create and edit/delete routes of one kind of master data."""
    page_schema = Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )

    class Collection(MethodView):
        @blp.arguments(RecordListArgs, location="query")
        @blp.response(200, page_schema)
        @requires("clients:read")
        def get(self, args: dict[str, Any], client_id: int) -> dict[str, Any]:
            """Entries by name; ``q`` filters by part of the name (or NIP)."""
            page = masterdata.list_records(
                current_actor(),
                client_id,
                kind,
                search=args["q"],
                page=args["page"],
                per_page=args["per_page"],
            )
            return _page(page)

        @blp.arguments(created)
        @blp.response(201, item)
        @checked_beyond_the_schema("NIP checksum", "VAT rate", "the name is not blank")
        @requires("clients:write")
        def post(self, args: dict[str, Any], client_id: int) -> Any:
            """Enter an entry by hand."""
            return masterdata.add_record(current_actor(), client_id, kind, args)

    class Entry(MethodView):
        @blp.arguments(item, required=False)
        @blp.response(200, item)
        @checked_beyond_the_schema("NIP checksum", "VAT rate", "the name is not blank")
        @requires("clients:write")
        def patch(self, args: dict[str, Any], client_id: int, record_id: int) -> Any:
            """Change some fields; an entry learnt from an invoice becomes a manual one."""
            return masterdata.change_record(current_actor(), client_id, kind, record_id, args)

        @blp.response(204)
        @requires("clients:write")
        def delete(self, client_id: int, record_id: int) -> None:
            masterdata.remove_record(current_actor(), client_id, kind, record_id)

    Collection.__name__ = Collection.__qualname__ = f"{kind.title()}Collection"
    Entry.__name__ = Entry.__qualname__ = f"{kind.title()}Entry"
    blp.route(f"/clients/<int:client_id>/{kind}", endpoint=f"{kind}_collection")(Collection)
    blp.route(f"/clients/<int:client_id>/{kind}/<int:record_id>", endpoint=f"{kind}_entry")(Entry)


_register("counterparties", CounterpartySchema, CounterpartyCreateSchema)
_register("products", ProductSchema, ProductCreateSchema)


@blp.route("/clients/<int:client_id>/master-data/<kind>")
class MasterDataFile(MethodView):
    @blp.arguments(FormatArgs, location="query")
    @blp.response(200, description="the file")
    @file_answer(
        "counterparties or products",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    @requires("clients:read")
    def get(self, args: dict[str, str], client_id: int, kind: str) -> Response:
        """Export counterparties or products as CSV or XLSX."""
        data = masterdata.export(current_actor(), client_id, kind, args["format"])
        return Response(
            data,
            mimetype=_MIME[args["format"]],
            headers={"Content-Disposition": f'attachment; filename="{kind}.{args["format"]}"'},
        )

    @blp.arguments(FormatArgs, location="query")
    @blp.response(200, ImportResultSchema)
    @file_body(
        "counterparties or products as CSV or XLSX",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    @checked_beyond_the_schema("every row")
    @requires("clients:write")
    def post(self, args: dict[str, str], client_id: int, kind: str) -> dict[str, Any]:
        """Import a file (the raw body); every row is checked before anything is written."""
        if not request.content_length:
            raise ValidationFailed.single("file", "send the file as the request body")
        result = masterdata.import_file(
            current_actor(), client_id, kind, args["format"], request.get_data()
        )
        return {"created": result.created, "updated": result.updated}
