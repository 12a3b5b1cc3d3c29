"""Wire shapes of the API (marshmallow); they also generate the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from integration.accounts.actor import SCOPES
from integration.accounts.models import BUREAU_ROLES, CLIENT_ROLES, Role

# A text a person types: something besides spaces, and no NUL (what the services check).
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
# The e-mail address the accounts domain accepts.
EMAIL = r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]{2,}$"


def text(*, max_length: int = 200, **kwargs: Any) -> fields.String:
    """A name or label: 1 to ``max_length`` characters, not only spaces."""
    checks = [validate.Length(min=1, max=max_length), validate.Regexp(NOT_BLANK)]
    return fields.String(validate=checks, **kwargs)


def email(**kwargs: Any) -> fields.String:
    checks = [validate.Length(max=254), validate.Regexp(EMAIL)]
    return fields.String(validate=checks, metadata={"format": "email"}, **kwargs)


def flag(**kwargs: Any) -> fields.Boolean:
    """A yes/no field that takes JSON's true and false only, not 0, 1 or "yes"."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class ProblemSchema(Schema):
    """RFC 9457: the members below, and extensions that say more (``errors``, ``reason``)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(metadata={"description": "URI of the problem type"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    request_id = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "per-field messages"})


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def _page_of(item: type[Schema], name: str) -> type[Schema]:
    attrs: dict[str, Any] = {
        "items": fields.List(fields.Nested(item)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }
    return Schema.from_dict(attrs, name=name)


# ---------------------------------------------------------------- bureaus and clients
class BureauSchema(Schema):
    id = fields.Integer(dump_only=True)
    nip = fields.String()
    name = fields.String()
    created_at = fields.DateTime(dump_only=True)


class BureauCreateSchema(Schema):
    nip = fields.String(required=True, metadata={"example": "5260250274"})
    name = text(required=True)


class NameUpdateSchema(Schema):
    name = text()


class ClientUpdateSchema(Schema):
    name = text()
    client_may_send = flag(
        metadata={"description": "the client's own people may send sales invoices (bureau only)"}
    )


class ClientSchema(Schema):
    id = fields.Integer(dump_only=True)
    bureau_id = fields.Integer(dump_only=True)
    nip = fields.String()
    name = fields.String()
    client_may_send = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    licence = fields.Function(
        lambda c: c.licence_state.as_dict() if getattr(c, "licence_state", None) else None,
        metadata={"description": "registration against the bureau's licence and days left"},
    )


class ClientCreateSchema(Schema):
    nip = fields.String(required=True)
    name = text(required=True)


BureauPageSchema = _page_of(BureauSchema, "BureauPage")
ClientPageSchema = _page_of(ClientSchema, "ClientPage")


# ---------------------------------------------------------------- users
class MemberSchema(Schema):
    id = fields.Function(lambda m: m.user.id)
    email = fields.Function(lambda m: m.user.email)
    first_name = fields.String()
    last_name = fields.String()
    pesel = fields.String(allow_none=True)
    role = fields.Function(lambda m: m.role.value)
    is_active = fields.Boolean()
    has_password = fields.Boolean(
        metadata={"description": "false until the person has set a password and joined"}
    )
    created_at = fields.Function(lambda m: m.membership.created_at.isoformat())


class UserCreateSchema(Schema):
    email = email(required=True)
    first_name = text(required=True, max_length=100)
    last_name = text(required=True, max_length=100)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    pesel = fields.String(load_default=None, allow_none=True)


class UserUpdateSchema(Schema):
    first_name = text(max_length=100)
    last_name = text(max_length=100)
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    is_active = flag()
    pesel = fields.String()


MemberPageSchema = _page_of(MemberSchema, "MemberPage")


def for_tenant(base: type[Schema], kind: str) -> type[Schema]:
    """``base`` whose role is one of those of a bureau, or of a client company."""
    roles = BUREAU_ROLES if kind == "bureau" else CLIENT_ROLES
    role = fields.String(
        required=base._declared_fields["role"].required,
        validate=validate.OneOf(sorted(r.value for r in roles)),
    )
    return type(f"{kind.title()}{base.__name__}", (base,), {"role": role})


# ---------------------------------------------------------------- API clients
class ApiClientSchema(Schema):
    id = fields.Integer()
    client_id = fields.String()
    name = fields.String()
    role = fields.Function(lambda c: c.role.value)
    scopes = fields.Function(lambda c: sorted(c.scope_set))
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ApiClientCreateSchema(Schema):
    name = text(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scopes = fields.List(
        fields.String(validate=validate.OneOf(sorted(SCOPES))),
        required=True,
        validate=validate.Length(min=1),
    )


class ApiClientIssuedSchema(Schema):
    client = fields.Nested(ApiClientSchema)
    client_secret = fields.String(
        attribute="secret", metadata={"description": "shown once; store it now"}
    )


class ApiClientListSchema(Schema):
    items = fields.List(fields.Nested(ApiClientSchema))


# ---------------------------------------------------------------- sign-in
class LoginSchema(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class PasswordSetupSchema(Schema):
    token = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class InvitationAcceptSchema(Schema):
    token = fields.String(required=True, metadata={"description": "the code from the e-mail"})


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True)


class MembershipSchema(Schema):
    kind = fields.String()
    id = fields.Integer()
    role = fields.String()


class MeSchema(Schema):
    kind = fields.String(metadata={"description": "user or api_client"})
    id = fields.Integer()
    is_platform_admin = fields.Boolean()
    scopes = fields.List(fields.String(), allow_none=True)
    memberships = fields.List(fields.Nested(MembershipSchema))


class HealthSchema(Schema):
    status = fields.String()
    database = fields.Boolean()
    redis = fields.Boolean()
