"""Tables of licensing: licences, contracts, subscriptions (trials), client registrations."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.clock import now
from integration.core.db import Base


class Licence(Base):
    """An issued licence number. The database, not the number, is the authority."""

    __tablename__ = "licence"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(29), unique=True)  # normalized, no dashes
    serial: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    kind: Mapped[int]  # numbers.Kind
    plan: Mapped[int]  # numbers.Plan
    modules: Mapped[int]  # numbers.Module bit set
    seats: Mapped[int]
    purchased_at: Mapped[datetime]
    valid_until: Mapped[datetime | None]  # support licences only
    bureau_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="SET NULL"), index=True
    )
    entered_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)


class SubscriptionStatus(enum.StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    EXPIRED = "expired"


class Subscription(Base):
    """The plan a bureau is on: a 30-day trial, or a subscription backed by licences."""

    __tablename__ = "subscription"

    bureau_id: Mapped[int] = mapped_column(
        sa.ForeignKey("bureau.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(10))
    trial_started_at: Mapped[datetime | None]
    trial_ends_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now)


class RegistrationState(enum.StrEnum):
    PENDING = "pending"  # unregistered, within its grace (or read-only once it runs out)
    REGISTERED = "registered"
    DECLINED = "declined"  # "do not register": read-only, no seat


class ClientRegistration(Base):
    """A client company's registration against its bureau's licence.

    Absent row: the client is unregistered since it was added (``client_company.created_at``).
    """

    __tablename__ = "client_registration"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("client_company.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(sa.String(12))
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    grace_started_at: Mapped[datetime]
    registered_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    read_only_since: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now)


class Contract(Base):
    """What a self-hosted licensee paid for; activation requests are checked against it."""

    __tablename__ = "licence_contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    licensee_nip: Mapped[str] = mapped_column(sa.String(10), index=True)
    licensee_name: Mapped[str] = mapped_column(sa.String(200))
    modules: Mapped[int]
    seats: Mapped[int]
    paid: Mapped[bool] = mapped_column(default=False)
    # The licensee's person, who signs in to the control panel to activate the installation
    licensee_email: Mapped[str | None] = mapped_column(sa.String(254))
    licensee_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)


class Installation(Base):
    """This installation's own identity (one row), from which its fingerprint is made."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class Activation(Base):
    """A registration key the platform signed for an installation."""

    __tablename__ = "licence_activation"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey("licence_contract.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    modules: Mapped[int]
    seats: Mapped[int]
    registration_key: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
