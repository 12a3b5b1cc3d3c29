"""The bureau's KSeF package: balance and ledger; top-ups by the platform admin."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.api.access import people_only, requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.schemas import text
from integration.quota import service as quota

blp = Blueprint(
    "quota",
    __name__,
    url_prefix="/api/v1",
    description="The bureau's prepaid KSeF package: every send and download is debited once",
)
blp.before_request(require_json_for_session_writes)


class EntrySchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"description": "send, download or top_up"})
    amount = fields.Integer(metadata={"description": "negative for debits"})
    balance_after = fields.Integer()
    operation_key = fields.String()
    note = fields.String()
    created_at = fields.DateTime()


class StatementSchema(Schema):
    balance = fields.Integer()
    low = fields.Boolean(metadata={"description": "the package runs low: time to top it up"})
    low_mark = fields.Integer(metadata={"description": "the balance that counts as low"})
    entries = fields.List(fields.Nested(EntrySchema))


class StatementArgs(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TopUpSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=quota.MAX_TOP_UP))
    reference = text(
        required=True,
        max_length=80,
        metadata={"description": "the purchase (invoice or order) reference"},
    )


class BalanceSchema(Schema):
    balance = fields.Integer()


@blp.route("/bureaus/<int:bureau_id>/quota")
@blp.arguments(StatementArgs, location="query")
@blp.response(200, StatementSchema)
@requires("quota:read")
def statement(args: dict[str, int], bureau_id: int) -> Any:
    return quota.statement(current_actor(), bureau_id, limit=args["limit"])


@blp.route("/platform/bureaus/<int:bureau_id>/quota/top-ups", methods=["POST"])
@blp.arguments(TopUpSchema)
@blp.response(201, BalanceSchema)
@people_only()
def top_up(args: dict[str, Any], bureau_id: int) -> dict[str, int]:
    balance = quota.top_up(
        current_actor(), bureau_id, amount=args["amount"], reference=args["reference"]
    )
    return {"balance": balance}
