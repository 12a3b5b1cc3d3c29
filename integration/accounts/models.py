"""Tables of the accounts domain."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from integration.core.clock import now
from integration.core.db import Base


class Role(enum.StrEnum):
    BUREAU_ADMIN = "bureau_admin"
    ACCOUNTANT = "accountant"
    CLIENT_ADMIN = "client_admin"
    CLIENT_USER = "client_user"

    @property
    def is_bureau_role(self) -> bool:
        return self in (Role.BUREAU_ADMIN, Role.ACCOUNTANT)


class MembershipState(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    INACTIVE = "inactive"


BUREAU_ROLES = frozenset({Role.BUREAU_ADMIN, Role.ACCOUNTANT})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_USER})

_role_type = sa.Enum(
    Role,
    name="membership_role",
    native_enum=False,
    length=20,
    values_callable=lambda e: [m.value for m in e],
    validate_strings=True,
)


class Bureau(Base):
    __tablename__ = "bureau"

    id: Mapped[int] = mapped_column(primary_key=True)
    nip: Mapped[str] = mapped_column(sa.String(10), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)

    clients: Mapped[list[ClientCompany]] = relationship(back_populates="bureau")


class ClientCompany(Base):
    __tablename__ = "client_company"
    __table_args__ = (sa.UniqueConstraint("bureau_id", "nip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="RESTRICT"), index=True
    )
    nip: Mapped[str] = mapped_column(sa.String(10), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The bureau lets the client's own people send sales invoices to KSeF.
    client_may_send: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=now)

    bureau: Mapped[Bureau] = relationship(back_populates="clients")


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    pesel: Mapped[str | None] = mapped_column(sa.String(11), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class UserAccount(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("person.id", ondelete="RESTRICT"), index=True
    )
    # None until the person sets a password through the welcome link.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # A password given by someone else (a licensee's first one): changed at first sign-in
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The language of the pages and e-mails the person chose (pl, en); None: the browser's
    language: Mapped[str | None] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Sha-256 of the one-time password-setup token sent in the welcome e-mail.
    setup_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    setup_token_expires_at: Mapped[datetime | None]
    welcome_sent_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A user's role at exactly one bureau or exactly one client company."""

    __tablename__ = "membership"
    __table_args__ = (
        sa.CheckConstraint("(bureau_id IS NULL) <> (client_id IS NULL)", name="exactly_one_tenant"),
        sa.UniqueConstraint("user_id", "bureau_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    bureau_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_role_type)
    # invited: waits for the person, who already has an account, to accept; active; inactive:
    # deactivated by this tenant's admin (the person's other tenants are untouched)
    state: Mapped[str] = mapped_column(
        sa.String(10), default=MembershipState.ACTIVE, server_default=MembershipState.ACTIVE
    )
    # What the inviter typed, shown to the tenant until the person accepts
    invited_first_name: Mapped[str | None] = mapped_column(sa.String(100))
    invited_last_name: Mapped[str | None] = mapped_column(sa.String(100))
    # SHA-256 of the one-time code that accepts the invitation
    invite_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    user: Mapped[UserAccount] = relationship(back_populates="memberships")

    @property
    def is_active(self) -> bool:
        return self.state == MembershipState.ACTIVE


class ApiClient(Base):
    """A machine client (e.g. a bureau's ERP) using the OAuth2 client-credentials grant."""

    __tablename__ = "api_client"
    __table_args__ = (
        sa.CheckConstraint(
            "(bureau_id IS NULL) <> (client_company_id IS NULL)", name="exactly_one_tenant"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(48), unique=True)
    # Argon2 hash; the secret itself is shown once, at creation.
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(200))
    bureau_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), index=True
    )
    client_company_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_role_type)
    scopes: Mapped[str] = mapped_column(sa.String(500))
    created_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class ApiToken(Base):
    """An issued bearer token, stored as its SHA-256 only."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    api_client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("api_client.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(sa.String(500))
    issued_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    api_client: Mapped[ApiClient] = relationship(lazy="joined")


class UserSession(Base):
    """A signed-in browser session, held here so that it can be ended.

    The cookie carries a random token; only its SHA-256 is stored. A session ends when the
    person signs out, changes the password elsewhere, is deactivated, or at ``expires_at``.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # signed_out, password_changed, deactivated, password_set
    end_reason: Mapped[str] = mapped_column(sa.String(20), default="")
