"""A bureau's or a client's people and API clients: invite, change a role, deactivate."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts import service as accounts
from integration.accounts.actor import SCOPES, Actor
from integration.core.errors import Forbidden, ValidationFailed
from integration.core.i18n import _
from integration.web import labels
from integration.web.common import Outcome, Page, act, actor, bp, show, signed_in

_ISSUED = "issued-api-client"


@bp.route("/<any(bureaus, clients):kind>/<int:tenant_id>/people", methods=["GET", "POST"])
@signed_in
def people(kind: str, tenant_id: int) -> Page:
    """A bureau's or a client's people: invite one, change a role, deactivate, reactivate."""
    from flask import session  # noqa: PLC0415

    who = actor()
    tenant = (
        accounts.Tenant.bureau(tenant_id)
        if kind == "bureaus"
        else accounts.Tenant.client(tenant_id)
    )
    title = (
        accounts.get_bureau(who, tenant_id).name
        if kind == "bureaus"
        else accounts.get_client(who, tenant_id).name
    )
    outcome: Outcome | BaseResponse | None = None
    if request.method == "POST":
        outcome = act(lambda action: _action(who, tenant, action))
        if isinstance(outcome, BaseResponse):
            return outcome
    members = accounts.list_users(who, tenant, per_page=200).items
    try:
        machines = accounts.list_api_clients(who, tenant)
    except Forbidden:  # only the tenant's admins see its API clients
        machines = None
    issued = session.pop(_ISSUED, None)  # the secret is shown once, after the redirect
    return show(
        "people/members.html",
        outcome,
        machines=machines,
        issued=issued,
        scopes=sorted(SCOPES),
        title=title,
        kind=kind,
        tenant_id=tenant_id,
        members=members,
        manages=machines is not None,
        roles={role.value: labels.ROLES[role.value] for role in sorted(tenant.roles)},
    )


def _action(who: Actor, tenant: accounts.Tenant, action: str) -> str:
    from flask import session  # noqa: PLC0415

    form = request.form
    if action == "api-client":
        created = accounts.create_api_client(
            who,
            tenant,
            name=form.get("name", ""),
            role=form.get("role", ""),
            scopes=form.getlist("scopes"),
        )
        session[_ISSUED] = {"client_id": created.client.client_id, "secret": created.secret}
        return _("API client %(name)s is created; copy its secret now.", name=created.client.name)
    if action == "revoke-api-client":
        machine_id = form.get("api_client_id", "")
        if not machine_id.isdigit():
            raise ValidationFailed.single("api_client_id", "choose an API client")
        revoked = accounts.revoke_api_client(who, tenant, int(machine_id))
        return _("API client %(name)s is revoked; its tokens stop working.", name=revoked.name)
    if action == "invite":
        member = accounts.create_user(
            who,
            tenant,
            email=form.get("email", ""),
            first_name=form.get("first_name", ""),
            last_name=form.get("last_name", ""),
            role=form.get("role", ""),
            pesel=form.get("pesel") or None,
        )
        return _("%(email)s is invited; an e-mail with a link follows.", email=member.user.email)
    user_id = form.get("user_id", "")
    if not user_id.isdigit():
        raise ValidationFailed.single("user_id", "choose a person")
    if action == "role":
        member = accounts.update_user(who, tenant, int(user_id), role=form.get("role", ""))
        return _(
            "%(email)s is now %(role)s.",
            email=member.user.email,
            role=labels.ROLES[member.role.value],
        )
    if action in ("deactivate", "activate"):
        member = accounts.update_user(who, tenant, int(user_id), is_active=action == "activate")
        if member.is_active:
            return _("%(email)s can sign in again.", email=member.user.email)
        return _("%(email)s can no longer sign in.", email=member.user.email)
    raise ValidationFailed.single("action", "unknown action")
