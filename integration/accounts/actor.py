"""Who is acting: a signed-in person or an API client, with their tenants, roles and scopes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.accounts.models import (
    ApiClient,
    ClientCompany,
    Membership,
    MembershipState,
    Role,
    UserAccount,
)
from integration.core.errors import Forbidden

# Scopes an OAuth2 token may carry, with what each opens. A signed-in person is not limited
# by scopes, only by roles.
SCOPE_DESCRIPTIONS = {
    "clients:read": "read bureaus, client companies and their master data",
    "clients:write": "add and change client companies and their master data",
    "invoices:read": "read invoices, UPOs, registers and archives",
    "invoices:write": "send invoices and packages, download cost invoices, import archives",
    "users:read": "read people and API clients",
    "users:write": "invite and change people, create and revoke API clients",
    "ksef:read": "read which KSeF credentials a client has (never the secrets)",
    "ksef:write": "store, test and delete KSeF credentials, seals and signed logins",
    "permissions:read": "read the KSeF grants of a client",
    "permissions:write": "grant, revoke and pull KSeF grants",
    "licence:read": "read the licence panel and the registration of clients",
    "licence:write": "enter licence numbers and decide the registration of clients",
    "quota:read": "read the bureau's KSeF package and its ledger",
    "audit:read": "read the audit trail",
}
SCOPES = frozenset(SCOPE_DESCRIPTIONS)
READ_SCOPES = frozenset(s for s in SCOPES if s.endswith(":read"))


class InsufficientScope(Forbidden):
    slug, title = "insufficient-scope", "The bearer token lacks a required scope"


@dataclass(frozen=True)
class Actor:
    """The subject of every service call. Services authorize against it, never handlers."""

    user_id: int | None = None
    api_client_id: int | None = None
    is_platform_admin: bool = False
    bureau_roles: Mapping[int, Role] = field(default_factory=dict)
    client_roles: Mapping[int, Role] = field(default_factory=dict)
    # None: a person with a session, limited by roles only.
    scopes: frozenset[str] | None = None
    # Where the request came from, and the person's signed-in session (for the audit trail)
    address: str | None = None
    session_id: int | None = None
    # The person signed in with a password someone else gave them: nothing but changing it
    must_change_password: bool = False
    # Who it is in words (an e-mail, an API client's name): what the audit trail says
    display: str = ""

    @property
    def label(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api-client:{self.api_client_id}"

    def require_scope(self, scope: str) -> None:
        if self.scopes is not None and scope not in self.scopes:
            raise InsufficientScope(f"this token lacks the scope {scope!r}", required_scope=scope)

    # -- tenancy ---------------------------------------------------------------------
    def bureau_role(self, bureau_id: int) -> Role | None:
        return self.bureau_roles.get(bureau_id)

    def sees_bureau(self, bureau_id: int) -> bool:
        return self.is_platform_admin or bureau_id in self.bureau_roles

    def sees_client(self, client: ClientCompany) -> bool:
        return (
            self.is_platform_admin
            or client.bureau_id in self.bureau_roles
            or client.id in self.client_roles
        )

    def administers_bureau(self, bureau_id: int) -> bool:
        return self.is_platform_admin or self.bureau_roles.get(bureau_id) == Role.BUREAU_ADMIN

    def works_for_bureau(self, bureau_id: int) -> bool:
        """Bureau admins and accountants of ``bureau_id``."""
        return self.is_platform_admin or bureau_id in self.bureau_roles

    def administers_client(self, client: ClientCompany) -> bool:
        return (
            self.administers_bureau(client.bureau_id)
            or self.client_roles.get(client.id) == Role.CLIENT_ADMIN
        )


def actor_for_user(session: Session, user: UserAccount) -> Actor:
    rows = session.execute(
        select(Membership.bureau_id, Membership.client_id, Membership.role).where(
            Membership.user_id == user.id, Membership.state == MembershipState.ACTIVE
        )
    ).all()
    return Actor(
        user_id=user.id,
        display=user.email,
        is_platform_admin=user.is_platform_admin,
        bureau_roles={b: r for b, _, r in rows if b is not None},
        client_roles={c: r for _, c, r in rows if c is not None},
    )


def actor_for_api_client(
    client: ApiClient, scopes: frozenset[str], *, address: str | None = None
) -> Actor:
    bureau_roles = {client.bureau_id: client.role} if client.bureau_id is not None else {}
    client_roles = (
        {client.client_company_id: client.role} if client.client_company_id is not None else {}
    )
    return Actor(
        api_client_id=client.id,
        bureau_roles=bureau_roles,
        client_roles=client_roles,
        scopes=scopes & client.scope_set,
        address=address,
        display=f"{client.name} ({client.client_id})",
    )


SYSTEM = Actor(is_platform_admin=True, display="Delegat")
"""The service itself (jobs, CLI): not bound to a tenant."""
