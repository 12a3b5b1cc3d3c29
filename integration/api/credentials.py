"""KSeF credentials of a client: KSeF tokens, signed logins, the bureau's seal, tests."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from integration.api.access import requires
from integration.api.auth import current_actor, require_json_for_session_writes
from integration.api.docs import checked_beyond_the_schema, file_body
from integration.core.errors import Text, ValidationFailed
from integration.credentials import service as credentials

blp = Blueprint(
    "credentials",
    __name__,
    url_prefix="/api/v1",
    description="KSeF credentials: tokens, qualified signatures, seals",
)
blp.before_request(require_json_for_session_writes)
MAX_UPLOAD = 256 * 1024


class CredentialSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "ksef_token, session or seal"})
    context_nip = fields.String(allow_none=True)
    fingerprint = fields.String(metadata={"description": "identifies the secret; never the secret"})
    rights = fields.Function(lambda c: c.rights.split() if c.rights else [])
    status = fields.String()
    label = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    refresh_expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class CredentialListSchema(Schema):
    items = fields.List(fields.Nested(CredentialSchema))


class TokenUploadSchema(Schema):
    token = fields.String(required=True, load_only=True)
    label = fields.String(load_default="")


class PrepareSchema(Schema):
    subject_identifier_type = fields.String(
        load_default="certificateSubject",
        validate=validate.OneOf(["certificateSubject", "certificateFingerprint"]),
    )


class PreparedSchema(Schema):
    request_id = fields.Integer()
    document = fields.Function(lambda p: p.document.decode())
    expires_at = fields.DateTime()


class MintArgs(Schema):
    mint = fields.List(
        fields.String(validate=validate.OneOf(["InvoiceRead", "InvoiceWrite"])),
        load_default=[],
        metadata={"description": "rights of a KSeF token to generate for unattended work"},
    )


class SealArgs(Schema):
    format = fields.String(load_default="pkcs12", validate=validate.OneOf(["pkcs12", "pem"]))


class TestResultSchema(Schema):
    ok = fields.Boolean()
    checked = fields.String(
        metadata={
            "description": "ksef_token (signed in afresh with it) or session (an authenticated "
            "call with the session of a signed login)"
        }
    )
    context_nip = fields.String()
    detail = fields.String()


def _body() -> bytes:
    if not request.content_length:
        raise ValidationFailed.single("file", "send the file as the request body")
    if request.content_length > MAX_UPLOAD:
        raise ValidationFailed.single(
            "file", Text("the file exceeds %(limit)d bytes", limit=MAX_UPLOAD)
        )
    return request.get_data()


@blp.route("/clients/<int:client_id>/ksef/credentials")
class Credentials(MethodView):
    @blp.response(200, CredentialListSchema)
    @requires("ksef:read")
    def get(self, client_id: int) -> dict[str, Any]:
        """Which credentials work for this client, with rights and expiry (no secrets)."""
        return {"items": credentials.list_credentials(current_actor(), client_id)}


@blp.route("/clients/<int:client_id>/ksef/credentials/token", methods=["POST"])
@blp.arguments(TokenUploadSchema)
@blp.response(201, CredentialSchema)
@checked_beyond_the_schema("KSeF accepts the token")
@requires("ksef:write")
def store_token(args: dict[str, str], client_id: int) -> Any:
    """Store a KSeF token for the client's context; it is tested against KSeF first."""
    return credentials.store_ksef_token(
        current_actor(), client_id, args["token"], label=args["label"]
    )


@blp.route("/clients/<int:client_id>/ksef/credentials/test", methods=["POST"])
@blp.response(200, TestResultSchema)
@requires("ksef:write")
def test_credentials(client_id: int) -> dict[str, Any]:
    """Ask KSeF now whether the stored credentials work; a revoked or expired one is a 422."""
    check = credentials.check_credentials(current_actor(), client_id)
    return {"ok": True, **asdict(check)}


@blp.route("/clients/<int:client_id>/ksef/credentials/<int:credential_id>", methods=["DELETE"])
@blp.response(204)
@requires("ksef:write")
def delete_credential(client_id: int, credential_id: int) -> None:
    """Delete a credential; KSeF tokens and sessions are revoked in KSeF first."""
    credentials.delete_credential(current_actor(), client_id, credential_id)


@blp.route("/clients/<int:client_id>/ksef/signature-requests", methods=["POST"])
@blp.arguments(PrepareSchema, required=False)
@blp.response(201, PreparedSchema)
@requires("ksef:write")
def prepare(args: dict[str, str], client_id: int) -> Any:
    """The unsigned AuthTokenRequest to download and sign (valid 10 minutes)."""
    return credentials.prepare_signature(current_actor(), client_id, **args)


@blp.route(
    "/clients/<int:client_id>/ksef/signature-requests/<int:request_id>/signed", methods=["POST"]
)
@blp.arguments(MintArgs, location="query")
@blp.response(200, CredentialListSchema)
@file_body("the signed AuthTokenRequest (XAdES)", "application/xml")
@checked_beyond_the_schema("the signature, its challenge and context")
@requires("ksef:write")
def upload_signed(args: dict[str, list[str]], client_id: int, request_id: int) -> dict[str, Any]:
    """Upload the signed file (XML body); checked here, then used to sign in to KSeF."""
    actor = current_actor()
    credentials.upload_signed(actor, client_id, request_id, _body(), mint_token=args["mint"])
    return {"items": credentials.list_credentials(actor, client_id)}


@blp.route("/bureaus/<int:bureau_id>/ksef/seal", methods=["POST"])
@blp.arguments(SealArgs, location="query")
@blp.response(201, CredentialSchema)
@file_body(
    "the seal: PKCS#12 (password in X-Seal-Password) or PEM",
    "application/x-pkcs12",
    "application/x-pem-file",
)
@checked_beyond_the_schema("the key, the certificate and the bureau's NIP")
@requires("ksef:write")
def upload_seal(args: dict[str, str], bureau_id: int) -> Any:
    """Upload the bureau's seal; its password travels in the X-Seal-Password header."""
    return credentials.upload_seal(
        current_actor(),
        bureau_id,
        _body(),
        password=request.headers.get("X-Seal-Password"),
        fmt=args["format"],
    )


@blp.route("/clients/<int:client_id>/ksef/seal-login", methods=["POST"])
@blp.arguments(MintArgs, location="query")
@blp.response(200, CredentialListSchema)
@requires("ksef:write")
def seal_login(args: dict[str, list[str]], client_id: int) -> dict[str, Any]:
    """Sign in to the client's context with the bureau's seal (entity grant needed)."""
    actor = current_actor()
    credentials.login_with_seal(actor, client_id, mint_token=args["mint"])
    return {"items": credentials.list_credentials(actor, client_id)}


class OverviewItemSchema(Schema):
    client_id = fields.Integer()
    client_name = fields.String()
    context_nip = fields.String()
    working = fields.Boolean()
    rights = fields.Function(lambda o: o.rights.split() if o.rights else [])
    token_status = fields.String(allow_none=True)
    session_expires_at = fields.DateTime(allow_none=True)


class OverviewSchema(Schema):
    items = fields.List(fields.Nested(OverviewItemSchema))


@blp.route("/bureaus/<int:bureau_id>/ksef/credentials")
@blp.response(200, OverviewSchema)
@requires("ksef:read")
def bureau_overview(bureau_id: int) -> dict[str, Any]:
    """Every client context of the bureau: working credentials, rights, expiry."""
    return {"items": credentials.bureau_overview(current_actor(), bureau_id)}
