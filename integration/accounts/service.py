"""Services of the accounts domain. Each loads, authorizes against the actor, acts, commits.

An actor asking for an object outside its tenants gets NotFound, never Forbidden, so that
ids of other bureaus cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from integration.accounts import guards
from integration.accounts import validation as check
from integration.accounts.actor import SCOPES, Actor
from integration.accounts.models import (
    BUREAU_ROLES,
    CLIENT_ROLES,
    ApiClient,
    Bureau,
    ClientCompany,
    Membership,
    MembershipState,
    Person,
    Role,
    UserAccount,
    UserSession,
)
from integration.accounts.secrets import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from integration.accounts.sessions import Opened, end_sessions, open_session
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict, Forbidden, NotFound, Text, ValidationFailed
from integration.jobs import enqueue_after_commit, job_id

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class Tenant:
    """A bureau or a client company, the owner of users and API clients."""

    kind: str  # "bureau" | "client"
    id: int

    @classmethod
    def bureau(cls, bureau_id: int) -> Tenant:
        return cls("bureau", bureau_id)

    @classmethod
    def client(cls, client_id: int) -> Tenant:
        return cls("client", client_id)

    @property
    def roles(self) -> frozenset[Role]:
        return BUREAU_ROLES if self.kind == "bureau" else CLIENT_ROLES


def paginate(s: Session, stmt: Select[T], page: int, per_page: int) -> Page[T]:
    """One page of ``stmt`` (ordered by the caller) and the count of all its rows."""
    if page < 1:
        raise ValidationFailed.single("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationFailed.single(
            "per_page", Text("must be between 1 and %(most)d", most=MAX_PAGE_SIZE)
        )
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = s.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


# ---------------------------------------------------------------------------- bureaus
def create_bureau(actor: Actor, *, nip: str, name: str) -> Bureau:
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin creates bureaus")
    nip, name = check.nip(nip), check.text(name, "name")
    with transaction() as s:
        if s.scalar(select(Bureau.id).where(Bureau.nip == nip)) is not None:
            raise Conflict("a bureau with this NIP already exists", field="nip")
        bureau = Bureau(nip=nip, name=name)
        s.add(bureau)
        s.flush()
        audit.record(
            s,
            actor,
            "bureau.created",
            bureau_id=bureau.id,
            object_type="bureau",
            object_id=bureau.id,
            detail=f"{name} (NIP {nip})",
        )
    return bureau


def list_bureaus(actor: Actor, *, page: int = 1, per_page: int = 50) -> Page[Bureau]:
    stmt = select(Bureau).order_by(Bureau.id)
    if not actor.is_platform_admin:
        stmt = stmt.where(Bureau.id.in_(list(actor.bureau_roles)))
    with transaction() as s:
        return paginate(s, stmt, page, per_page)


def _load_bureau(s: Session, actor: Actor, bureau_id: int) -> Bureau:
    bureau = s.get(Bureau, bureau_id)
    if bureau is None or not actor.sees_bureau(bureau_id):
        raise NotFound("no such bureau")
    return bureau


def get_bureau(actor: Actor, bureau_id: int) -> Bureau:
    with transaction() as s:
        return _load_bureau(s, actor, bureau_id)


def update_bureau(actor: Actor, bureau_id: int, *, name: str | None = None) -> Bureau:
    with transaction() as s:
        bureau = _load_bureau(s, actor, bureau_id)
        if not actor.administers_bureau(bureau_id):
            raise Forbidden("only a bureau admin changes the bureau")
        if name is not None:
            bureau.name = check.text(name, "name")
            audit.record(
                s,
                actor,
                "bureau.renamed",
                bureau_id=bureau_id,
                object_type="bureau",
                object_id=bureau_id,
                detail=bureau.name,
            )
    return bureau


# ---------------------------------------------------------------------------- clients
def create_client(actor: Actor, bureau_id: int, *, nip: str, name: str) -> ClientCompany:
    with transaction() as s:
        _load_bureau(s, actor, bureau_id)
        if not actor.works_for_bureau(bureau_id):
            raise Forbidden("only the bureau's admins and accountants add clients")
        client = add_client(s, bureau_id, nip=nip, name=name)
        audit.record(
            s,
            actor,
            "client.created",
            bureau_id=bureau_id,
            client_id=client.id,
            object_type="client",
            object_id=client.id,
            detail=f"{client.name} (NIP {client.nip})",
        )
        return client


def add_client(s: Session, bureau_id: int, *, nip: str, name: str) -> ClientCompany:
    """A new client of the bureau in the caller's transaction (authorized by the caller)."""
    nip, name = check.nip(nip), check.text(name, "name")
    duplicate = s.scalar(
        select(ClientCompany.id).where(
            ClientCompany.bureau_id == bureau_id, ClientCompany.nip == nip
        )
    )
    if duplicate is not None:
        raise Conflict(
            "this bureau already serves a client with this NIP",
            field="nip",
            client_id=duplicate,
        )
    client = ClientCompany(bureau_id=bureau_id, nip=nip, name=name)
    s.add(client)
    s.flush()
    return client


def list_clients(
    actor: Actor, bureau_id: int, *, page: int = 1, per_page: int = 50
) -> Page[ClientCompany]:
    with transaction() as s:
        _load_bureau(s, actor, bureau_id)
        stmt = select(ClientCompany).where(ClientCompany.bureau_id == bureau_id)
        if not actor.works_for_bureau(bureau_id):
            stmt = stmt.where(ClientCompany.id.in_(list(actor.client_roles)))
        return paginate(s, stmt.order_by(ClientCompany.name, ClientCompany.id), page, per_page)


def my_clients(actor: Actor) -> Sequence[ClientCompany]:
    """Every client company the actor can see, across its tenants."""
    with transaction() as s:
        stmt = select(ClientCompany).order_by(ClientCompany.name, ClientCompany.id)
        if not actor.is_platform_admin:
            stmt = stmt.where(
                ClientCompany.bureau_id.in_(list(actor.bureau_roles))
                | ClientCompany.id.in_(list(actor.client_roles))
            )
        return s.scalars(stmt).all()


def load_client(s: Session, actor: Actor, client_id: int) -> ClientCompany:
    """The client in the caller's transaction, or NotFound when the actor cannot see it."""
    client = s.get(ClientCompany, client_id)
    if client is None or not actor.sees_client(client):
        raise NotFound("no such client company")
    return client


def get_client(actor: Actor, client_id: int) -> ClientCompany:
    with transaction() as s:
        return load_client(s, actor, client_id)


def update_client(
    actor: Actor, client_id: int, *, name: str | None = None, client_may_send: bool | None = None
) -> ClientCompany:
    with transaction() as s:
        client = load_client(s, actor, client_id)
        if not (actor.works_for_bureau(client.bureau_id) or actor.administers_client(client)):
            raise Forbidden("only the bureau or the client's admin changes the company")
        guards.check_client_writable(s, client)
        where = audit.of_client(client.bureau_id, client.id)
        if name is not None:
            client.name = check.text(name, "name")
            audit.record(
                s,
                actor,
                "client.renamed",
                object_type="client",
                object_id=client.id,
                detail=client.name,
                **where,
            )
        if client_may_send is not None:
            if not actor.works_for_bureau(client.bureau_id):
                raise Forbidden("only the bureau decides whether the client sends invoices itself")
            if client.client_may_send != client_may_send:
                client.client_may_send = client_may_send
                audit.record(
                    s,
                    actor,
                    "client.self_sending",
                    object_type="client",
                    object_id=client.id,
                    detail="allowed" if client_may_send else "not allowed",
                    **where,
                )
    return client


# ---------------------------------------------------------------------------- users
def _authorize_tenant(
    s: Session, actor: Actor, tenant: Tenant, *, manage: bool, write: bool = False
) -> None:
    """Raise NotFound when the tenant is invisible, Forbidden when it may not be managed."""
    if tenant.kind == "bureau":
        _load_bureau(s, actor, tenant.id)
        if manage and not actor.administers_bureau(tenant.id):
            raise Forbidden("only a bureau admin manages the bureau's people")
    else:
        client = load_client(s, actor, tenant.id)
        if manage and not actor.administers_client(client):
            raise Forbidden("only the client's admin or the bureau's admin manages its people")
        if write:
            guards.check_client_writable(s, client)


def _membership_filter(tenant: Tenant):  # type: ignore[no-untyped-def]
    if tenant.kind == "bureau":
        return Membership.bureau_id == tenant.id
    return Membership.client_id == tenant.id


def _role(value: str | Role, tenant: Tenant) -> Role:
    try:
        role = Role(value)
    except ValueError:
        role = None
    if role is None or role not in tenant.roles:
        allowed = ", ".join(sorted(r.value for r in tenant.roles))
        raise ValidationFailed.single("role", Text("must be one of: %(allowed)s", allowed=allowed))
    return role


@dataclass(frozen=True)
class Member:
    """A person as one tenant sees them; an invitation not yet accepted shows what the
    inviter typed, and nothing of the person's account."""

    user: UserAccount
    membership: Membership
    typed_pesel: str | None = None  # echoed to the inviter in the answer to an invitation

    @property
    def role(self) -> Role:
        return self.membership.role

    @property
    def invited(self) -> bool:
        return self.membership.state == MembershipState.INVITED

    @property
    def first_name(self) -> str:
        if self.invited:
            return self.membership.invited_first_name or ""
        return self.user.person.first_name

    @property
    def last_name(self) -> str:
        if self.invited:
            return self.membership.invited_last_name or ""
        return self.user.person.last_name

    @property
    def pesel(self) -> str | None:
        return self.typed_pesel if self.invited else self.user.person.pesel

    @property
    def has_password(self) -> bool:
        return not self.invited and self.user.password_hash is not None

    @property
    def is_active(self) -> bool:
        return self.membership.state != MembershipState.INACTIVE


def create_user(
    actor: Actor,
    tenant: Tenant,
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str | Role,
    pesel: str | None = None,
) -> Member:
    """Add a person to a bureau or a client; a welcome e-mail with a setup link follows.

    A person who already has an account (in another tenant, perhaps) is invited instead:
    the answer is the same as for a new address, so that no tenant learns of another's
    people, and the person accepts with the link the invitation e-mail brings.
    """
    email = check.email(email)
    first_name = check.text(first_name, "first_name", max_length=100)
    last_name = check.text(last_name, "last_name", max_length=100)
    pesel = check.pesel(pesel)
    chosen = _role(role, tenant)
    where = {
        "bureau_id": tenant.id if tenant.kind == "bureau" else None,
        "client_id": tenant.id if tenant.kind == "client" else None,
    }
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=True, write=True)
        existing = s.scalar(select(UserAccount).where(UserAccount.email == email))
        if existing is not None:
            _record_member(
                s, actor, tenant, "person.invited", existing.id, detail=f"{email} as {chosen.value}"
            )
            return _invite(
                s, tenant, existing, chosen, first_name=first_name, last_name=last_name, pesel=pesel
            )
        if pesel and s.scalar(select(Person.id).where(Person.pesel == pesel)) is not None:
            raise Conflict("a person with this PESEL already exists", field="pesel")
        person = Person(first_name=first_name, last_name=last_name, email=email, pesel=pesel)
        user = UserAccount(email=email, person=person)
        s.add(user)
        s.flush()
        membership = Membership(user_id=user.id, role=chosen, **where)
        s.add(membership)
        s.flush()
        _record_member(
            s, actor, tenant, "person.invited", user.id, detail=f"{email} as {chosen.value}"
        )
        enqueue_after_commit(
            s,
            "integration.accounts.jobs.send_welcome_email",
            job_id=job_id("welcome-email", user.id),
            queue="mail",
            user_id=user.id,
        )
    return Member(user=user, membership=membership)


def _invite(
    s: Session,
    tenant: Tenant,
    user: UserAccount,
    role: Role,
    *,
    first_name: str,
    last_name: str,
    pesel: str | None,
) -> Member:
    here = s.scalar(
        select(Membership).where(_membership_filter(tenant), Membership.user_id == user.id)
    )
    if here is not None:
        raise Conflict("this person is already here", field="email")
    membership = Membership(
        user_id=user.id,
        role=role,
        state=MembershipState.INVITED,
        invited_first_name=first_name,
        invited_last_name=last_name,
        bureau_id=tenant.id if tenant.kind == "bureau" else None,
        client_id=tenant.id if tenant.kind == "client" else None,
    )
    s.add(membership)
    s.flush()
    enqueue_after_commit(
        s,
        "integration.accounts.jobs.send_invitation_email",
        job_id=job_id("invitation-email", membership.id),
        queue="mail",
        membership_id=membership.id,
    )
    return Member(user=user, membership=membership, typed_pesel=pesel)


def accept_invitation(actor: Actor, token: str) -> Membership:
    """The signed-in person accepts an invitation e-mailed to them."""
    if actor.user_id is None:
        raise Forbidden("only a signed-in person accepts an invitation")
    with transaction() as s:
        membership = s.scalar(
            select(Membership).where(
                Membership.invite_token_hash == token_digest(token.strip()),
                Membership.state == MembershipState.INVITED,
            )
        )
        if membership is None or membership.user_id != actor.user_id:
            raise ValidationFailed.single(
                "token", "the invitation is unknown, already accepted, or meant for another account"
            )
        membership.state, membership.invite_token_hash = MembershipState.ACTIVE, None
        tenant = (
            Tenant.bureau(membership.bureau_id)
            if membership.bureau_id is not None
            else Tenant.client(membership.client_id or 0)
        )
        _record_member(s, actor, tenant, "person.joined", actor.user_id, detail=actor.display)
        return membership


def list_users(actor: Actor, tenant: Tenant, *, page: int = 1, per_page: int = 50) -> Page[Member]:
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=False)
        stmt = (
            select(Membership)
            .where(_membership_filter(tenant))
            .join(UserAccount)
            .options(selectinload(Membership.user))
            .order_by(UserAccount.email)
        )
        memberships: Page[Membership] = paginate(s, stmt, page, per_page)
        return Page(
            items=[Member(m.user, m) for m in memberships.items],
            total=memberships.total,
            page=page,
            per_page=per_page,
        )


def _load_member(s: Session, tenant: Tenant, user_id: int) -> Membership:
    membership = s.scalar(
        select(Membership).where(_membership_filter(tenant), Membership.user_id == user_id)
    )
    if membership is None:
        raise NotFound("no such user here")
    return membership


def get_user(actor: Actor, tenant: Tenant, user_id: int) -> Member:
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=False)
        m = _load_member(s, tenant, user_id)
        return Member(m.user, m)


def update_user(
    actor: Actor,
    tenant: Tenant,
    user_id: int,
    *,
    role: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    is_active: bool | None = None,
    pesel: str | None = None,
) -> Member:
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=True, write=True)
        m = _load_member(s, tenant, user_id)
        invited = m.state == MembershipState.INVITED
        if role is not None:
            new_role = _role(role, tenant)
            if m.role == Role.BUREAU_ADMIN and new_role != Role.BUREAU_ADMIN:
                _keep_one_admin(s, tenant, m)
            if new_role != m.role:
                _record_member(
                    s,
                    actor,
                    tenant,
                    "person.role_changed",
                    user_id,
                    detail=f"{m.user.email}: {m.role.value} → {new_role.value}",
                )
            m.role = new_role
        if first_name is not None:
            checked = check.text(first_name, "first_name", max_length=100)
            if invited:
                m.invited_first_name = checked
            else:
                m.user.person.first_name = checked
        if last_name is not None:
            checked = check.text(last_name, "last_name", max_length=100)
            if invited:
                m.invited_last_name = checked
            else:
                m.user.person.last_name = checked
        if pesel is not None:
            if invited:
                raise Conflict("the person has not accepted the invitation yet", field="pesel")
            normalized = check.pesel(pesel)
            taken = s.scalar(
                select(Person.id).where(Person.pesel == normalized, Person.id != m.user.person_id)
            )
            if normalized and taken is not None:
                raise Conflict("a person with this PESEL already exists", field="pesel")
            m.user.person.pesel = normalized
        if first_name is not None or last_name is not None or pesel is not None:
            _record_member(s, actor, tenant, "person.updated", user_id, detail=m.user.email)
        if is_active is not None and not invited and is_active != m.is_active:
            if not is_active and m.user_id == actor.user_id:
                raise Conflict("you cannot deactivate your own account")
            _set_active(s, m, is_active)
            action = "person.reactivated" if is_active else "person.deactivated"
            _record_member(s, actor, tenant, action, user_id, detail=m.user.email)
        return Member(m.user, m)


def _where(s: Session, tenant: Tenant) -> audit.Where:
    """The tenant's place in the audit trail: a client's entries show to its bureau too."""
    if tenant.kind == "bureau":
        return audit.of_client(tenant.id, None)
    client = s.get(ClientCompany, tenant.id)
    return audit.of_client(client.bureau_id if client else None, tenant.id)


def _record_member(
    s: Session, actor: Actor, tenant: Tenant, action: str, user_id: int | None, *, detail: str
) -> None:
    audit.record(
        s,
        actor,
        action,
        object_type="person",
        object_id=user_id or "",
        detail=detail,
        **_where(s, tenant),
    )


def _set_active(s: Session, m: Membership, active: bool) -> None:
    """Deactivation ends the person's work here; with no tenant left, their account too."""
    m.state = MembershipState.ACTIVE if active else MembershipState.INACTIVE
    s.flush()
    elsewhere = s.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == m.user_id, Membership.state == MembershipState.ACTIVE)
    )
    m.user.is_active = bool(elsewhere)
    if not elsewhere:
        end_sessions(s, m.user_id, "deactivated")


def languages_of(s: Session, emails: list[str]) -> dict[str, str | None]:
    """The language each of these people chose (None: Polish, the default)."""
    if not emails:
        return {}
    found = s.execute(
        select(UserAccount.email, UserAccount.language).where(UserAccount.email.in_(emails))
    ).all()
    return dict(found)  # a list of pairs (a Result itself would be taken for a mapping)


def member_emails(
    s: Session,
    roles: frozenset[Role] | set[Role],
    *,
    bureau_id: int | None = None,
    client_id: int | None = None,
) -> list[str]:
    """E-mails of the tenant's active people in ``roles`` (the recipients of its notices)."""
    where = (
        Membership.bureau_id == bureau_id
        if bureau_id is not None
        else (Membership.client_id == client_id)
    )
    return list(
        s.scalars(
            select(UserAccount.email)
            .join(Membership, Membership.user_id == UserAccount.id)
            .where(
                where,
                UserAccount.is_active.is_(True),
                Membership.state == MembershipState.ACTIVE,
                Membership.role.in_(roles),
            )
            .order_by(UserAccount.email)
        )
    )


def _keep_one_admin(s: Session, tenant: Tenant, leaving: Membership) -> None:
    admins = s.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            _membership_filter(tenant),
            Membership.role == Role.BUREAU_ADMIN,
            Membership.state == MembershipState.ACTIVE,
            Membership.id != leaving.id,
        )
    )
    if not admins:
        raise Conflict("a bureau needs at least one admin; appoint another first")


# ---------------------------------------------------------------------------- sign-in
def authenticate(email: str, password: str) -> UserAccount | None:
    """The active account with this e-mail and password, or None (same cost either way)."""
    with transaction() as s:
        user = s.scalar(select(UserAccount).where(UserAccount.email == email.strip().lower()))
        stored = user.password_hash if user is not None and user.is_active else None
        if not verify_password(stored, password) or user is None:
            return None
        if stored and needs_rehash(stored):
            user.password_hash = hash_password(password)
        return user


def sign_in(email: str, password: str, *, address: str, user_agent: str) -> Opened | None:
    """A new session for the active account with this e-mail and password, or None."""
    user = authenticate(email, password)
    if user is None:
        return None
    with transaction() as s:
        account = s.get(UserAccount, user.id)
        assert account is not None
        return open_session(s, account, address=address, user_agent=user_agent)


LANGUAGES = ("pl", "en")


def previous_visit(actor: Actor) -> datetime | None:
    """When the person last signed in before the session they are in (None: never)."""
    if actor.user_id is None:
        return None
    with transaction() as s:
        return s.scalar(
            select(func.max(UserSession.created_at)).where(
                UserSession.user_id == actor.user_id,
                UserSession.id != (actor.session_id or 0),
            )
        )


def preferred_language(user_id: int) -> str | None:
    """The language the person chose for pages and e-mails (None: their browser's)."""
    with transaction() as s:
        user = s.get(UserAccount, user_id)
        return user.language if user is not None else None


def set_language(actor: Actor, language: str | None) -> None:
    """A person's own choice of language; only for themselves."""
    if language is not None and language not in LANGUAGES:
        raise ValidationFailed.single("language", "choose Polish or English")
    if actor.user_id is None:
        raise Forbidden("only a person chooses a language")
    with transaction() as s:
        user = s.get(UserAccount, actor.user_id)
        if user is not None:
            user.language = language


def issue_password_setup(user_id: int, ttl: timedelta) -> str | None:
    """Create a one-time setup token for the user and return it (only its hash is kept).

    None when the account already has a password.
    """
    with transaction() as s:
        user = s.get(UserAccount, user_id)
        if user is None or user.password_hash is not None:
            return None
        token = new_token()
        user.setup_token_hash = token_digest(token)
        user.setup_token_expires_at = now() + ttl
    return token


def complete_password_setup(token: str, password: str) -> UserAccount:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            "password", f"must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    with transaction() as s:
        user = s.scalar(
            select(UserAccount).where(UserAccount.setup_token_hash == token_digest(token))
        )
        expires = user.setup_token_expires_at if user else None
        if user is None or expires is None or expires < now():
            raise ValidationFailed.single(
                "token", "the link is invalid or has expired; ask your admin to send a new one"
            )
        user.password_hash = hash_password(password)
        user.setup_token_hash = None
        user.setup_token_expires_at = None
        end_sessions(s, user.id, "password_set")
    return user


def change_password(actor: Actor, *, current: str, new: str) -> None:
    if actor.user_id is None:
        raise Forbidden("only people have passwords")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            "new_password", f"must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    with transaction() as s:
        user = s.get(UserAccount, actor.user_id)
        if user is None or not verify_password(user.password_hash, current):
            raise ValidationFailed.single("current_password", "does not match")
        if verify_password(user.password_hash, new):
            raise ValidationFailed.single("new_password", "choose a password other than the old")
        user.password_hash = hash_password(new)
        user.must_change_password = False
        end_sessions(s, user.id, "password_changed", keep=actor.session_id)


# ---------------------------------------------------------------------------- API clients
@dataclass(frozen=True)
class IssuedApiClient:
    client: ApiClient
    secret: str  # shown once


def create_api_client(
    actor: Actor, tenant: Tenant, *, name: str, role: str | Role, scopes: Sequence[str]
) -> IssuedApiClient:
    name = check.text(name, "name")
    chosen = _role(role, tenant)
    unknown = sorted(set(scopes) - SCOPES)
    if unknown or not scopes:
        raise ValidationFailed.single(
            "scopes",
            f"choose from: {', '.join(sorted(SCOPES))}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
        )
    if actor.scopes is not None and not set(scopes) <= actor.scopes:
        raise Forbidden("an API client cannot receive scopes its creator does not hold")
    secret = new_token(32)
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=True, write=True)
        client = ApiClient(
            client_id=f"dlg_{new_token(18)}",
            secret_hash=hash_password(secret),
            name=name,
            bureau_id=tenant.id if tenant.kind == "bureau" else None,
            client_company_id=tenant.id if tenant.kind == "client" else None,
            role=chosen,
            scopes=" ".join(sorted(set(scopes))),
            created_by_user_id=actor.user_id,
        )
        s.add(client)
        s.flush()
        audit.record(
            s,
            actor,
            "api_client.created",
            object_type="api_client",
            object_id=client.id,
            detail=f"{name}: {client.scopes}",
            **_where(s, tenant),
        )
    return IssuedApiClient(client=client, secret=secret)


def _tenant_clients(tenant: Tenant):  # type: ignore[no-untyped-def]
    if tenant.kind == "bureau":
        return ApiClient.bureau_id == tenant.id
    return ApiClient.client_company_id == tenant.id


def list_api_clients(actor: Actor, tenant: Tenant) -> Sequence[ApiClient]:
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=True)
        return s.scalars(
            select(ApiClient).where(_tenant_clients(tenant)).order_by(ApiClient.id)
        ).all()


def revoke_api_client(actor: Actor, tenant: Tenant, api_client_id: int) -> ApiClient:
    with transaction() as s:
        _authorize_tenant(s, actor, tenant, manage=True)
        client = s.scalar(
            select(ApiClient).where(_tenant_clients(tenant), ApiClient.id == api_client_id)
        )
        if client is None:
            raise NotFound("no such API client")
        if client.revoked_at is None:
            client.revoked_at = now()
            audit.record(
                s,
                actor,
                "api_client.revoked",
                object_type="api_client",
                object_id=client.id,
                detail=client.name,
                **_where(s, tenant),
            )
    return client


# ---------------------------------------------------------------------------- audit trail
EVERYTHING = audit.AuditFilter()


def _trail_of(s: Session, actor: Actor, tenant: Tenant) -> audit.Where:
    """Whose trail the actor may read: a bureau's admins theirs (their clients' included),
    a client's admins their company's. Another tenant's is not there (404)."""
    if tenant.kind == "bureau":
        _load_bureau(s, actor, tenant.id)
        if not actor.administers_bureau(tenant.id):
            raise Forbidden("only a bureau admin reads the bureau's audit trail")
        return audit.of_client(tenant.id, None)
    client = load_client(s, actor, tenant.id)
    if not actor.administers_client(client):
        raise Forbidden("only the company's admin or the bureau's admin reads its audit trail")
    return audit.of_client(None, tenant.id)


def audit_trail(
    actor: Actor,
    tenant: Tenant,
    narrow: audit.AuditFilter = EVERYTHING,
    *,
    page: int = 1,
    per_page: int = 50,
) -> audit.AuditPage:
    if page < 1:
        raise ValidationFailed.single("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationFailed.single(
            "per_page", Text("must be between 1 and %(most)d", most=MAX_PAGE_SIZE)
        )
    with transaction() as s:
        where = _trail_of(s, actor, tenant)
        return audit.entries(s, narrow=narrow, page=page, per_page=per_page, **where)


def audit_csv(
    actor: Actor, tenant: Tenant, narrow: audit.AuditFilter = EVERYTHING, *, separator: str = ";"
) -> bytes:
    """The trail as CSV (``;`` as Polish Excel opens it, or ``,``); the export itself goes into
    the trail."""
    if separator not in (";", ","):
        raise ValidationFailed.single("separator", "a semicolon or a comma")
    with transaction() as s:
        where = _trail_of(s, actor, tenant)
        data = audit.as_csv(s, narrow=narrow, separator=separator, **where)
        entries = data.count(b"\n") - 1
        audit.record(
            s,
            actor,
            "export.audit",
            object_type=tenant.kind,
            object_id=tenant.id,
            detail=f"{entries} entries",
            **_where(s, tenant),
        )
        return data
