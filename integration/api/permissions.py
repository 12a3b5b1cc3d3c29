"""Grants of a client in KSeF: to accountants by PESEL and to the bureau by NIP."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.api.access import requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.docs import checked_beyond_the_schema
from integration.api.schemas import flag
from integration.permissions import service as permissions

blp = Blueprint(
    "permissions",
    __name__,
    url_prefix="/api/v1",
    description="Who may read or write a client's invoices in KSeF; mirrored with KSeF",
)
blp.before_request(require_json_for_session_writes)


class GrantSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer()
    kind = fields.String(metadata={"description": "person (by PESEL) or entity (by NIP)"})
    grantee_type = fields.String()
    grantee_value = fields.String()
    grantee_name = fields.String()
    rights = fields.Function(lambda g: g.right_list)
    can_delegate = fields.Boolean()
    state = fields.String(metadata={"description": "pending, active, revoking, revoked or failed"})
    source = fields.String(metadata={"description": "delegat, or ksef when made elsewhere"})
    error = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class GrantListSchema(Schema):
    items = fields.List(fields.Nested(GrantSchema))


class GrantCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["person", "entity"]))
    identifier = fields.String(required=True, metadata={"description": "PESEL or NIP"})
    name = fields.String(
        required=True, metadata={"description": "first and last name, or the entity's full name"}
    )
    rights = fields.List(
        fields.String(validate=validate.OneOf(list(permissions.RIGHTS))), required=True
    )
    can_delegate = flag(load_default=False)


class PulledSchema(Schema):
    queued = fields.Boolean()


@blp.route("/clients/<int:client_id>/grants")
class Grants(MethodView):
    @blp.response(200, GrantListSchema)
    @requires("permissions:read")
    def get(self, client_id: int) -> dict[str, Any]:
        return {"items": permissions.list_grants(current_actor(), client_id)}

    @blp.arguments(GrantCreateSchema)
    @blp.response(202, GrantSchema)
    @checked_beyond_the_schema("PESEL or NIP checksum")
    @requires("permissions:write")
    def post(self, args: dict[str, Any], client_id: int) -> Any:
        """Grant invoice rights; KSeF confirms in the background (state pending → active)."""
        return permissions.grant(current_actor(), client_id, **args)


@blp.route("/clients/<int:client_id>/grants/<int:grant_id>", methods=["DELETE"])
@blp.response(202, GrantSchema)
@requires("permissions:write")
def revoke_grant(client_id: int, grant_id: int) -> Any:
    return permissions.revoke(current_actor(), client_id, grant_id)


class PullStatusSchema(Schema):
    last_run_at = fields.DateTime(allow_none=True)
    last_ok_at = fields.DateTime(allow_none=True)
    error = fields.String(metadata={"description": "why the last reading failed, if it did"})
    stopped = fields.Boolean(
        metadata={
            "description": "KSeF refused (403): periodic reading waits until the credentials "
            "change or a person reads the grants again"
        }
    )


@blp.route("/clients/<int:client_id>/grants/pull")
class GrantPull(MethodView):
    @blp.response(200, PullStatusSchema)
    @requires("permissions:read")
    def get(self, client_id: int) -> Any:
        """How the last reading of the client's grants from KSeF went."""
        status = permissions.pull_status(current_actor(), client_id)
        return status or {"last_run_at": None, "last_ok_at": None, "error": "", "stopped": False}

    @blp.response(202, PulledSchema)
    @requires("permissions:write")
    def post(self, client_id: int) -> dict[str, bool]:
        """Read the grants KSeF holds in the client's context and mirror them here."""
        permissions.request_pull(current_actor(), client_id)
        return {"queued": True}


class IndirectGrantSchema(Schema):
    client_id = fields.Integer(required=True)
    identifier = fields.String(required=True, metadata={"description": "the person's PESEL"})
    name = fields.String(required=True, metadata={"description": "first and last name"})
    rights = fields.List(
        fields.String(validate=validate.OneOf(list(permissions.RIGHTS))), required=True
    )


@blp.route("/bureaus/<int:bureau_id>/grants", methods=["POST"])
@blp.arguments(IndirectGrantSchema)
@blp.response(202, GrantSchema)
@checked_beyond_the_schema("PESEL checksum")
@requires("permissions:write")
def grant_indirect(args: dict[str, Any], bureau_id: int) -> Any:
    """Pass rights a client gave the bureau on to one of the bureau's people (by PESEL)."""
    return permissions.grant_indirect(current_actor(), bureau_id, **args)
