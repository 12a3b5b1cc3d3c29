"""Handlers of /api/v1. Each parses input, makes one service call and renders."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from integration.accounts import service as accounts
from integration.accounts.models import ClientCompany
from integration.accounts.service import Tenant
from integration.api import schemas as s
from integration.api.access import people_only, public, requires, signed_in
from integration.api.auth import (
    current_actor,
    require_json_for_session_writes,
    sign_in,
    sign_out,
)
from integration.api.docs import checked_beyond_the_schema
from integration.core.errors import Unauthenticated
from integration.licensing import service as licensing

blp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Bureaus, client companies, people and API clients",
)
blp.before_request(require_json_for_session_writes)


# ---------------------------------------------------------------------------- sign-in
@blp.route("/auth/login", methods=["POST"])
@blp.arguments(s.LoginSchema)
@blp.response(204)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@public()
def login(args: dict[str, str]) -> None:
    """Sign in with e-mail and password; sets the session cookie."""
    if not sign_in(args["email"], args["password"]):
        raise Unauthenticated("wrong e-mail or password, or the account is inactive")


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@people_only()
def logout() -> None:
    sign_out()


@blp.route("/auth/password-setup", methods=["POST"])
@blp.arguments(s.PasswordSetupSchema)
@blp.response(204)
@checked_beyond_the_schema("the one-time code", "password length")
@public()
def password_setup(args: dict[str, str]) -> None:
    """Set the first password with the one-time token from the welcome e-mail."""
    accounts.complete_password_setup(args["token"], args["password"])


@blp.route("/auth/password", methods=["POST"])
@blp.arguments(s.PasswordChangeSchema)
@blp.response(204)
@checked_beyond_the_schema("the current password", "password length")
@people_only()
def change_password(args: dict[str, str]) -> None:
    accounts.change_password(
        current_actor(), current=args["current_password"], new=args["new_password"]
    )


@blp.route("/invitations/accept", methods=["POST"])
@blp.arguments(s.InvitationAcceptSchema)
@blp.response(200, s.MembershipSchema)
@checked_beyond_the_schema("the one-time code")
@people_only()
def accept_invitation(args: dict[str, str]) -> dict[str, Any]:
    """Accept, signed in, an invitation e-mailed to you: the bureau or company it names
    becomes one of yours."""
    m = accounts.accept_invitation(current_actor(), args["token"])
    kind, tenant_id = (
        ("bureau", m.bureau_id) if m.bureau_id is not None else ("client", m.client_id)
    )
    return {"kind": kind, "id": tenant_id, "role": m.role.value}


@blp.route("/me")
@blp.response(200, s.MeSchema)
@signed_in()
def me() -> dict[str, Any]:
    actor = current_actor()
    memberships = [
        {"kind": "bureau", "id": b, "role": r.value} for b, r in actor.bureau_roles.items()
    ]
    memberships += [
        {"kind": "client", "id": c, "role": r.value} for c, r in actor.client_roles.items()
    ]
    return {
        "kind": "user" if actor.user_id is not None else "api_client",
        "id": actor.user_id if actor.user_id is not None else actor.api_client_id,
        "is_platform_admin": actor.is_platform_admin,
        "scopes": sorted(actor.scopes) if actor.scopes is not None else None,
        "memberships": memberships,
    }


# ---------------------------------------------------------------------------- bureaus
@blp.route("/bureaus")
class Bureaus(MethodView):
    @blp.arguments(s.PageArgs, location="query")
    @blp.response(200, s.BureauPageSchema)
    @requires("clients:read")
    def get(self, args: dict[str, int]) -> accounts.Page[Any]:
        return accounts.list_bureaus(current_actor(), **args)

    @blp.arguments(s.BureauCreateSchema)
    @blp.response(201, s.BureauSchema)
    @checked_beyond_the_schema("NIP checksum")
    @requires("clients:write")
    def post(self, args: dict[str, str]) -> Any:
        return accounts.create_bureau(current_actor(), **args)


@blp.route("/bureaus/<int:bureau_id>")
class BureauItem(MethodView):
    @blp.response(200, s.BureauSchema)
    @requires("clients:read")
    def get(self, bureau_id: int) -> Any:
        return accounts.get_bureau(current_actor(), bureau_id)

    @blp.arguments(s.NameUpdateSchema, required=False)
    @blp.response(200, s.BureauSchema)
    @checked_beyond_the_schema("the name is not blank")
    @requires("clients:write")
    def patch(self, args: dict[str, str], bureau_id: int) -> Any:
        return accounts.update_bureau(current_actor(), bureau_id, **args)


# ---------------------------------------------------------------------------- clients
def _with_licence(*clients: ClientCompany) -> None:
    """Attach each client's licence state, so that every response about a client carries it."""
    states = licensing.states_for(clients)
    for client in clients:
        client.licence_state = states.get(client.id)  # type: ignore[attr-defined]


@blp.route("/bureaus/<int:bureau_id>/clients")
class BureauClients(MethodView):
    @blp.arguments(s.PageArgs, location="query")
    @blp.response(200, s.ClientPageSchema)
    @requires("clients:read")
    def get(self, args: dict[str, int], bureau_id: int) -> accounts.Page[Any]:
        page = accounts.list_clients(current_actor(), bureau_id, **args)
        _with_licence(*page.items)
        return page

    @blp.arguments(s.ClientCreateSchema)
    @blp.response(201, s.ClientSchema)
    @checked_beyond_the_schema("NIP checksum")
    @requires("clients:write")
    def post(self, args: dict[str, str], bureau_id: int) -> Any:
        """Add a client; its licence state carries the registration prompt."""
        client = accounts.create_client(current_actor(), bureau_id, **args)
        _with_licence(client)
        return client


@blp.route("/clients/<int:client_id>")
class ClientItem(MethodView):
    @blp.response(200, s.ClientSchema)
    @requires("clients:read")
    def get(self, client_id: int) -> Any:
        client = accounts.get_client(current_actor(), client_id)
        _with_licence(client)
        return client

    @blp.arguments(s.ClientUpdateSchema, required=False)
    @blp.response(200, s.ClientSchema)
    @checked_beyond_the_schema("the name is not blank")
    @requires("clients:write")
    def patch(self, args: dict[str, Any], client_id: int) -> Any:
        client = accounts.update_client(current_actor(), client_id, **args)
        _with_licence(client)
        return client


# ---------------------------------------------------------------------------- per tenant
def _tenant_routes(kind: str) -> None:
    """Users and API clients of a bureau or a client company: one set of handlers for both."""
    prefix = f"/{'bureaus' if kind == 'bureau' else 'clients'}/<int:tenant_id>"

    def tenant(tenant_id: int) -> Tenant:
        return Tenant(kind, tenant_id)

    @blp.route(f"{prefix}/users", endpoint=f"{kind}_users")
    class Users(MethodView):
        @blp.arguments(s.PageArgs, location="query")
        @blp.response(200, s.MemberPageSchema)
        @requires("users:read")
        def get(self, args: dict[str, int], tenant_id: int) -> accounts.Page[Any]:
            return accounts.list_users(current_actor(), tenant(tenant_id), **args)

        @blp.arguments(s.for_tenant(s.UserCreateSchema, kind))
        @blp.response(201, s.MemberSchema)
        @checked_beyond_the_schema(
            "e-mail address", "PESEL checksum", "the roles of this kind of tenant"
        )
        @requires("users:write")
        def post(self, args: dict[str, Any], tenant_id: int) -> Any:
            return accounts.create_user(current_actor(), tenant(tenant_id), **args)

    @blp.route(f"{prefix}/users/<int:user_id>", endpoint=f"{kind}_user")
    class UserItem(MethodView):
        @blp.response(200, s.MemberSchema)
        @requires("users:read")
        def get(self, tenant_id: int, user_id: int) -> Any:
            return accounts.get_user(current_actor(), tenant(tenant_id), user_id)

        @blp.arguments(s.for_tenant(s.UserUpdateSchema, kind), required=False)
        @blp.response(200, s.MemberSchema)
        @checked_beyond_the_schema("PESEL checksum", "the roles of this kind of tenant")
        @requires("users:write")
        def patch(self, args: dict[str, Any], tenant_id: int, user_id: int) -> Any:
            return accounts.update_user(current_actor(), tenant(tenant_id), user_id, **args)

    @blp.route(f"{prefix}/api-clients", endpoint=f"{kind}_api_clients")
    class ApiClients(MethodView):
        @blp.response(200, s.ApiClientListSchema)
        @requires("users:read")
        def get(self, tenant_id: int) -> dict[str, Any]:
            return {"items": accounts.list_api_clients(current_actor(), tenant(tenant_id))}

        @blp.arguments(s.for_tenant(s.ApiClientCreateSchema, kind))
        @blp.response(201, s.ApiClientIssuedSchema)
        @checked_beyond_the_schema("the roles of this kind of tenant")
        @requires("users:write")
        def post(self, args: dict[str, Any], tenant_id: int) -> Any:
            return accounts.create_api_client(current_actor(), tenant(tenant_id), **args)

    @blp.route(f"{prefix}/api-clients/<int:api_client_id>", endpoint=f"{kind}_api_client")
    class ApiClientItem(MethodView):
        @blp.response(200, s.ApiClientSchema)
        @requires("users:write")
        def delete(self, tenant_id: int, api_client_id: int) -> Any:
            """Revoke the API client and every token it holds."""
            return accounts.revoke_api_client(current_actor(), tenant(tenant_id), api_client_id)


_tenant_routes("bureau")
_tenant_routes("client")
