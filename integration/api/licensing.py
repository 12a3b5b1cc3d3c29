"""Licence panel, client registration, trials, activation, platform admin, data moves."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.api.access import people_only, public, requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.docs import checked_beyond_the_schema, file_answer, file_body
from integration.api.schemas import email, flag, text
from integration.core.errors import ValidationFailed
from integration.invoices import archive
from integration.licensing import activation
from integration.licensing import service as licensing
from integration.licensing.numbers import Kind, Module, Plan, format_number

blp = Blueprint(
    "licensing",
    __name__,
    url_prefix="/api/v1",
    description="Licences, registration of clients, trials, activation, data moves",
)
blp.before_request(require_json_for_session_writes)
PLANS = [p.name.lower() for p in Plan]
MODULES = [m.name.lower() for m in Module if m.name]


class LicenceNumberSchema(Schema):
    number = fields.String(
        required=True, metadata={"example": "44G70-50000-002G0-H41TY-2MZE6-BT53"}
    )


class RegistrationSchema(Schema):
    action = fields.String(
        required=True, validate=validate.OneOf(["register", "remind_later", "do_not_register"])
    )
    display_name = text(load_default=None, allow_none=True)


class IssueLicenceSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.name.lower() for k in Kind]))
    plan = fields.String(required=True, validate=validate.OneOf(PLANS))
    seats = fields.Integer(required=True, validate=validate.Range(min=1, max=4095))
    modules = fields.List(fields.String(validate=validate.OneOf(MODULES)), load_default=None)
    bureau_id = fields.Integer(load_default=None)


class ContractSchema(Schema):
    licensee_nip = fields.String(required=True)
    licensee_name = text(required=True)
    licensee_email = email(required=True)
    modules = fields.List(fields.String(validate=validate.OneOf(MODULES)), required=True)
    seats = fields.Integer(required=True, validate=validate.Range(min=1, max=4095))
    paid = flag(required=True)


class PlanSchema(Schema):
    plan = fields.String(required=True, validate=validate.OneOf(PLANS))


class TrialSchema(Schema):
    bureau_nip = fields.String(required=True)
    bureau_name = text(required=True)
    email = email(required=True)
    first_name = text(required=True, max_length=100)
    last_name = text(required=True, max_length=100)
    plan = fields.String(required=True, validate=validate.OneOf(PLANS))


class ActivationSchema(Schema):
    installation_key = fields.String(required=True)


class LicenceStateSchema(Schema):
    state = fields.String(metadata={"description": "registered, grace or read_only"})
    registration = fields.String(metadata={"description": "pending, registered or declined"})
    days_left = fields.Integer(allow_none=True)
    deadline = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)
    prompt = fields.Boolean()
    actions = fields.List(fields.String())
    summary = fields.Dict(
        metadata={
            "description": "after a decision: seats, active (clients writable in the current "
            "period), registered, clients"
        }
    )


class LicenceItemSchema(Schema):
    number = fields.String()
    kind = fields.String()
    plan = fields.String()
    modules = fields.List(fields.String())
    seats = fields.Integer()
    valid_until = fields.String(allow_none=True)


class SubscriptionSchema(Schema):
    plan = fields.String()
    status = fields.String()
    trial_ends_at = fields.String(allow_none=True)


class PanelSchema(Schema):
    seats = fields.Integer()
    registered = fields.Integer()
    active = fields.Integer()
    clients = fields.Integer()
    licences = fields.List(fields.Nested(LicenceItemSchema))
    subscription = fields.Nested(SubscriptionSchema, allow_none=True)
    support_valid_until = fields.String(allow_none=True)
    support_expires_soon = fields.Boolean()
    support_expired = fields.Boolean()
    needs_licence_number = fields.Boolean(
        metadata={"description": "a licence number is wanted: none yet, or support expired"}
    )
    licence_number_prompt = fields.String(
        allow_none=True, metadata={"description": "why, and which number to enter"}
    )
    installation = fields.Dict(
        metadata={
            "description": "a self-hosted installation: activated or read-only (and why), "
            "with the modules and seats its registration key names"
        }
    )


class IssuedLicenceSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    seats = fields.Integer()
    valid_until = fields.String(allow_none=True)


class ContractOutSchema(Schema):
    id = fields.Integer()
    licensee_nip = fields.String()
    licensee_email = fields.String()
    seats = fields.Integer()
    temporary_password = fields.String(
        allow_none=True,
        metadata={
            "description": "shown once, when the licensee's account was made now; it must be "
            "changed at the first sign-in"
        },
    )


class TrialOutSchema(Schema):
    bureau_id = fields.Integer()
    nip = fields.String()


class RegistrationKeySchema(Schema):
    registration_key = fields.String()


@blp.route("/bureaus/<int:bureau_id>/licence")
class LicencePanel(MethodView):
    @blp.response(200, PanelSchema)
    @requires("licence:read")
    def get(self, bureau_id: int) -> dict[str, Any]:
        """The licence panel: licences, seats, registered and active clients, reminders."""
        return licensing.licence_panel(current_actor(), bureau_id)

    @blp.arguments(LicenceNumberSchema)
    @blp.response(200, PanelSchema)
    @checked_beyond_the_schema("the licence number's checksum and signature")
    @requires("licence:write")
    def post(self, args: dict[str, str], bureau_id: int) -> dict[str, Any]:
        """Enter a licence number (dashes, spaces and case do not matter)."""
        actor = current_actor()
        licensing.enter_licence(actor, bureau_id, args["number"])
        return licensing.licence_panel(actor, bureau_id)


@blp.route("/bureaus/<int:bureau_id>/licence/check", methods=["POST"])
@blp.response(200, PanelSchema)
@requires("licence:read")
def check_registration_status(bureau_id: int) -> dict[str, Any]:
    """Check registration status: the panel recomputed now."""
    return licensing.licence_panel(current_actor(), bureau_id)


@blp.route("/clients/<int:client_id>/registration")
class ClientRegistration(MethodView):
    @blp.response(200, LicenceStateSchema)
    @requires("licence:read")
    def get(self, client_id: int) -> dict[str, Any]:
        return licensing.registration_status(current_actor(), client_id).as_dict()

    @blp.arguments(RegistrationSchema)
    @blp.response(200, LicenceStateSchema)
    @checked_beyond_the_schema("the display name is not blank")
    @requires("licence:write")
    def post(self, args: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Register now, remind me later (60 more days), or do not register (read-only)."""
        return licensing.decide(current_actor(), client_id, **args).as_dict()


@blp.route("/platform/licences", methods=["POST"])
@blp.arguments(IssueLicenceSchema)
@blp.response(201, IssuedLicenceSchema)
@checked_beyond_the_schema("the bureau exists")
@people_only()
def issue_licence(args: dict[str, Any]) -> dict[str, Any]:
    licence = licensing.issue_licence(current_actor(), **args)
    return {
        "id": licence.id,
        "number": format_number(licence.number),
        "seats": licence.seats,
        "valid_until": licence.valid_until.isoformat() if licence.valid_until else None,
    }


@blp.route("/platform/contracts", methods=["POST"])
@blp.arguments(ContractSchema)
@blp.response(201, ContractOutSchema)
@checked_beyond_the_schema("NIP checksum", "e-mail address")
@people_only()
def create_contract(args: dict[str, Any]) -> dict[str, Any]:
    issued = activation.create_contract(current_actor(), **args)
    contract = issued.contract
    return {
        "id": contract.id,
        "licensee_nip": contract.licensee_nip,
        "licensee_email": contract.licensee_email,
        "seats": contract.seats,
        "temporary_password": issued.temporary_password,
    }


@blp.route("/platform/bureaus/<int:bureau_id>/plan", methods=["PUT"])
@blp.arguments(PlanSchema)
@blp.response(204)
@people_only()
def change_plan(args: dict[str, str], bureau_id: int) -> None:
    licensing.change_plan(current_actor(), bureau_id, args["plan"])


@blp.route("/platform/bureaus/<int:bureau_id>", methods=["DELETE"])
@blp.response(204)
@people_only()
def delete_trial_account(bureau_id: int) -> None:
    licensing.delete_trial_account(current_actor(), bureau_id)


@blp.route("/trials", methods=["POST"])
@blp.arguments(TrialSchema)
@blp.response(201, TrialOutSchema)
@checked_beyond_the_schema("NIP checksum", "e-mail address")
@public()
def start_trial(args: dict[str, str]) -> dict[str, Any]:
    """Sign up for a 30-day trial of a plan; the admin receives a password-setup e-mail."""
    bureau = licensing.start_trial(**args)
    return {"bureau_id": bureau.id, "nip": bureau.nip}


class DifferenceSchema(Schema):
    field = fields.String(
        metadata={"description": "licensee_nip, paid, modules, seats or installation"}
    )
    installation = fields.String(metadata={"description": "what the installation key says"})
    contract = fields.String(metadata={"description": "what the contract allows"})
    ok = fields.Boolean()
    reason = fields.String()


class ActivationCheckSchema(Schema):
    contract_id = fields.Integer(allow_none=True)
    licensee_name = fields.String()
    differences = fields.List(fields.Nested(DifferenceSchema))
    may_generate = fields.Boolean()
    activated_at = fields.DateTime(allow_none=True)


@blp.route("/activation/check", methods=["POST"])
@blp.arguments(ActivationSchema)
@blp.response(200, ActivationCheckSchema)
@checked_beyond_the_schema("the installation key's integrity")
@people_only()
def check_activation(args: dict[str, str]) -> Any:
    """Compare an installation key with your contract, field by field; nothing is written."""
    return activation.check_installation(current_actor(), args["installation_key"])


@blp.route("/activation", methods=["POST"])
@blp.arguments(ActivationSchema)
@blp.response(200, RegistrationKeySchema)
@checked_beyond_the_schema("the installation key's integrity")
@people_only()
def activate(args: dict[str, str]) -> dict[str, Any]:
    """Exchange an installation key for a signed registration key (the licensee, signed in).

    One installation per contract: the same installation asking again gets its key again."""
    return {"registration_key": activation.activate(current_actor(), args["installation_key"])}


@blp.route("/bureaus/<int:bureau_id>/export")
@blp.response(200, description="a ZIP of every client's master data and invoices with UPOs")
@file_answer("a ZIP of every client's master data and invoices with UPOs", "application/zip")
@requires("clients:read", "invoices:read")
def export_bureau(bureau_id: int) -> Response:
    data = archive.export_bureau(current_actor(), bureau_id)
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="bureau-{bureau_id}.zip"'},
    )


class BureauImportSchema(Schema):
    clients_created = fields.Integer()
    clients_updated = fields.Integer(metadata={"description": "clients already served here"})
    invoices_created = fields.Integer()
    invoices_skipped = fields.Integer(metadata={"description": "already here, same content"})
    master_data_rows = fields.Integer()


@blp.route("/bureaus/<int:bureau_id>/import", methods=["POST"])
@blp.response(200, BureauImportSchema)
@file_body("a bureau export made by Delegat", "application/zip")
@checked_beyond_the_schema("every file of every client")
@requires("clients:write", "invoices:write")
def import_bureau(bureau_id: int) -> dict[str, int]:
    """Import a bureau export (the ZIP as the body): clients, master data, invoices with UPOs.

    Everything is checked first; with any problem nothing is written and each is listed."""
    if not request.content_length:
        raise ValidationFailed.single("file", "send the export as the request body")
    if request.content_length > archive.MAX_ARCHIVE_BYTES:
        raise ValidationFailed.single(
            "file", f"the export exceeds {archive.MAX_ARCHIVE_BYTES} bytes"
        )
    request.max_content_length = archive.MAX_ARCHIVE_BYTES
    return asdict(archive.import_bureau(current_actor(), bureau_id, request.get_data()))
