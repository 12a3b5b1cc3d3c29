"""The audit trail of a bureau (its clients' included) or of a client, page by page or as CSV."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.accounts import service as accounts
from integration.accounts.service import Tenant
from integration.api.access import requires
from integration.api.auth import current_actor
from integration.api.docs import file_answer
from integration.api.schemas import PageArgs
from integration.audit.service import AuditFilter

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1",
    description="Who changed what, when, from where, and how it ended (append-only)",
)


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_kind = fields.String(metadata={"description": "person, api_client or service"})
    actor_label = fields.String(metadata={"description": "the person's e-mail, the client's name"})
    address = fields.String(metadata={"description": "where the request came from"})
    bureau_id = fields.Integer(allow_none=True)
    client_id = fields.Integer(allow_none=True)
    action = fields.String(metadata={"example": "grant.requested"})
    object_type = fields.String()
    object_id = fields.String()
    outcome = fields.String(metadata={"description": "ok, refused or failed"})
    detail = fields.String()


class AuditTrailSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class AuditNarrowArgs(Schema):
    action = fields.String(
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"description": "an action, or its first part (grant, invoice, credential)"},
    )
    outcome = fields.String(load_default=None, validate=validate.OneOf(["ok", "refused", "failed"]))
    actor = fields.String(
        load_default=None, validate=validate.Length(max=100), metadata={"description": "part of"}
    )
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)
    client_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "in a bureau's trail: one client's entries"},
    )


class AuditTrailArgs(PageArgs, AuditNarrowArgs):
    pass


def _narrow(args: dict[str, Any]) -> AuditFilter:
    return AuditFilter(
        action=args["action"],
        outcome=args["outcome"],
        actor=args["actor"],
        since=args["since"],
        until=args["until"],
        client_id=args["client_id"],
    )


def _routes(kind: str) -> None:
    prefix = f"/{'bureaus' if kind == 'bureau' else 'clients'}/<int:tenant_id>/audit"

    @blp.route(prefix, endpoint=f"{kind}_audit")
    @blp.arguments(AuditTrailArgs, location="query")
    @blp.response(200, AuditTrailSchema)
    @requires("audit:read")
    def trail(args: dict[str, Any], tenant_id: int) -> Any:
        """The newest first; for admins of the bureau, or of the company."""
        return accounts.audit_trail(
            current_actor(),
            Tenant(kind, tenant_id),
            _narrow(args),
            page=args["page"],
            per_page=args["per_page"],
        )

    @blp.route(f"{prefix}/export", endpoint=f"{kind}_audit_export")
    @blp.arguments(AuditNarrowArgs, location="query")
    @blp.response(200, description="the trail as CSV, oldest first")
    @file_answer("the trail as CSV (UTF-8), oldest first", "text/csv")
    @requires("audit:read")
    def export(args: dict[str, Any], tenant_id: int) -> Response:
        data = accounts.audit_csv(current_actor(), Tenant(kind, tenant_id), _narrow(args))
        name = f"audit-{kind}-{tenant_id}.csv"
        return Response(
            data,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


_routes("bureau")
_routes("client")
