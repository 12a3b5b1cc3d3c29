"""Licensing services: numbers in the licence panel, seats, client registration, trials.

Deadlines are computed from the injectable clock at every check, so a client is read-only on
day 60 even if the daily job has not run yet; the job records the transitions and reminds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from integration.accounts import validation as check
from integration.accounts.actor import Actor
from integration.accounts.models import (
    Bureau,
    ClientCompany,
    Membership,
    Person,
    Role,
    UserAccount,
)
from integration.accounts.service import languages_of, load_client, member_emails
from integration.audit import service as audit
from integration.core.appctx import current_settings
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import (
    ClientReadOnly,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from integration.core.messages import translator
from integration.jobs import enqueue_after_commit, job_id
from integration.licensing import installation, numbers
from integration.licensing.models import (
    ClientRegistration,
    Licence,
    RegistrationState,
    Subscription,
    SubscriptionStatus,
)
from integration.mail import Message, backend_for, send

GRACE = timedelta(days=60)
TRIAL = timedelta(days=30)
SUPPORT_TERM = timedelta(days=365)
SUPPORT_REMINDER = timedelta(days=30)


class SeatsExhausted(Conflict):
    slug, title = "seats-exhausted", "All client seats of the licence are taken"


class LicenceNumberRejected(ValidationFailed):
    slug, title = "licence-number-rejected", "The licence number cannot be used"


class BureauReadOnly(ClientReadOnly):
    slug, title = "subscription-expired", "The bureau's trial or subscription has ended"


class ModuleNotLicensed(Forbidden):
    slug, title = "module-not-licensed", "The bureau's licence does not include this module"


def licensed_modules(s: Session, bureau_id: int) -> numbers.Module | None:
    """The modules the bureau's application licences (or its trial plan) include.

    None while the bureau has neither: it then works within the registration grace, like its
    unregistered clients, with every module.
    """
    licences = s.scalars(
        select(Licence.modules).where(
            Licence.bureau_id == bureau_id,
            Licence.kind == int(numbers.Kind.APPLICATION),
            Licence.revoked_at.is_(None),
        )
    ).all()
    registered = installation.status().modules  # a self-hosted installation's key
    if licences:
        modules = numbers.Module(0)
        for value in licences:
            modules |= numbers.Module(value)
        return modules if registered is None else modules & registered
    sub = s.get(Subscription, bureau_id)
    if sub is not None and sub.status == SubscriptionStatus.TRIAL:
        plan = numbers.Plan(sub.plan).modules
        return plan if registered is None else plan & registered
    return registered


def require_module(s: Session, bureau_id: int, module: numbers.Module) -> None:
    """Raise ModuleNotLicensed (403) naming the module and how to get it."""
    modules = licensed_modules(s, bureau_id)
    if modules is not None and module not in modules:
        name = (module.name or "").lower()
        raise ModuleNotLicensed(
            f"the bureau's licence does not include the module {name.replace('_', ' ')}; "
            "enter a licence number that includes it in the licence panel",
            module=name,
        )


def licence_secret() -> bytes:
    settings = current_settings()
    secret = settings.licence_secret or settings.secret_key or "delegat-development"
    return secret.encode()


# ---------------------------------------------------------------------------- issuing
def issue_licence(
    actor: Actor,
    *,
    kind: str,
    plan: str,
    seats: int,
    modules: Sequence[str] | None = None,
    bureau_id: int | None = None,
    purchased_at: datetime | None = None,
) -> Licence:
    """The platform admin issues a licence; its number is returned formatted."""
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin issues licences")
    try:
        kind_value = numbers.Kind[kind.upper()]
        plan_value = numbers.Plan[plan.upper()]
        module_value = (
            numbers.Module.parse(list(modules)) if modules is not None else plan_value.modules
        )
    except (KeyError, ValueError) as exc:
        raise ValidationFailed.single("licence", str(exc).strip("'")) from None
    if not 0 < seats < 4096:
        raise ValidationFailed.single("seats", "must be between 1 and 4095")
    bought = purchased_at or now()
    with transaction() as s:
        serial = _free_serial(s)
        number = numbers.encode(
            numbers.LicenceData(
                plan=plan_value, modules=module_value, seats=seats, serial=serial, kind=kind_value
            ),
            licence_secret(),
        )
        licence = Licence(
            number=numbers.normalize(number),
            serial=serial,
            kind=int(kind_value),
            plan=int(plan_value),
            modules=int(module_value),
            seats=seats,
            purchased_at=bought,
            valid_until=bought + SUPPORT_TERM if kind_value == numbers.Kind.SUPPORT else None,
            bureau_id=bureau_id,
            entered_at=now() if bureau_id else None,
        )
        s.add(licence)
        if bureau_id is not None:
            _activate_subscription(s, bureau_id, licence)
        s.flush()
        audit.record(
            s,
            actor,
            "licence.issued",
            bureau_id=bureau_id,
            object_type="licence",
            object_id=licence.id,
            detail=f"{kind_value.name.lower()} {plan_value.name.lower()}, {seats} seats",
        )
    return licence


def _free_serial(s: Session) -> int:
    while True:
        serial = secrets.randbelow(2**32 - 1) + 1
        if s.scalar(select(Licence.id).where(Licence.serial == serial)) is None:
            return serial


def _activate_subscription(s: Session, bureau_id: int, licence: Licence) -> None:
    if licence.kind != numbers.Kind.APPLICATION:
        return
    sub = s.get(Subscription, bureau_id)
    if sub is None:
        sub = Subscription(bureau_id=bureau_id, plan=licence.plan, status="active")
        s.add(sub)
    sub.status, sub.plan, sub.updated_at = SubscriptionStatus.ACTIVE, licence.plan, now()


def enter_licence(actor: Actor, bureau_id: int, number: str) -> Licence:
    """A bureau admin enters a number in the licence panel."""
    if not actor.administers_bureau(bureau_id):
        raise (
            NotFound("no such bureau")
            if not actor.sees_bureau(bureau_id)
            else Forbidden("only a bureau admin enters licence numbers")
        )
    try:
        data = numbers.decode(number, licence_secret())
    except numbers.InvalidNumber as exc:
        raise LicenceNumberRejected.single("number", str(exc)) from None
    with transaction() as s:
        if s.get(Bureau, bureau_id) is None:
            raise NotFound("no such bureau")
        licence = s.scalar(select(Licence).where(Licence.number == numbers.normalize(number)))
        if licence is None or licence.serial != data.serial:
            raise LicenceNumberRejected.single(
                "number", "this licence number is not on record; contact Delegat"
            )
        if licence.revoked_at is not None:
            raise LicenceNumberRejected.single("number", "this licence was revoked")
        if licence.bureau_id not in (None, bureau_id):
            raise LicenceNumberRejected.single(
                "number", "this licence is registered to another bureau"
            )
        licence.bureau_id, licence.entered_at = bureau_id, licence.entered_at or now()
        _activate_subscription(s, bureau_id, licence)
        audit.record(
            s,
            actor,
            "licence.entered",
            bureau_id=bureau_id,
            object_type="licence",
            object_id=licence.id,
            detail=numbers.format_number(licence.number),
        )
    return licence


# ---------------------------------------------------------------------------- state
@dataclass(frozen=True)
class ClientLicenceState:
    client_id: int
    state: str  # registered | grace | read_only
    registration: str  # pending | registered | declined
    days_left: int | None
    deadline: datetime | None
    reason: str | None
    display_name: str | None
    # After a decision: seats in the licence, clients active in the period, registered
    summary: dict[str, int] | None = None

    @property
    def writable(self) -> bool:
        return self.state != "read_only"

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "registration": self.registration,
            "days_left": self.days_left,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "reason": self.reason,
            "display_name": self.display_name,
            "prompt": self.registration == "pending",
            "actions": ["register", "remind_later", "do_not_register"]
            if self.registration != "registered"
            else ["do_not_register"],
            **({"summary": self.summary} if self.summary is not None else {}),
        }


def _state(
    client: ClientCompany,
    reg: ClientRegistration | None,
    at: datetime,
    subscription: Subscription | None,
) -> ClientLicenceState:
    if subscription is not None and _subscription_expired(subscription, at):
        return ClientLicenceState(
            client.id,
            "read_only",
            reg.state if reg else "pending",
            None,
            subscription.trial_ends_at,
            "the bureau's trial has ended; enter a licence number to restore writing",
            reg.display_name if reg else None,
        )
    if reg is not None and reg.state == RegistrationState.REGISTERED:
        return ClientLicenceState(
            client.id, "registered", "registered", None, None, None, reg.display_name
        )
    if reg is not None and reg.state == RegistrationState.DECLINED:
        return ClientLicenceState(
            client.id,
            "read_only",
            "declined",
            0,
            reg.declined_at,
            "the client was not registered against the licence; register it to restore writing",
            reg.display_name,
        )
    started = reg.grace_started_at if reg is not None else client.created_at
    deadline = started + GRACE
    if at >= deadline:
        return ClientLicenceState(
            client.id,
            "read_only",
            "pending",
            0,
            deadline,
            "the 60 days to register the client have passed; register it to restore writing",
            None,
        )
    days_left = (deadline - at).days + (1 if (deadline - at) % timedelta(days=1) else 0)
    return ClientLicenceState(client.id, "grace", "pending", days_left, deadline, None, None)


def _subscription_expired(sub: Subscription, at: datetime) -> bool:
    if sub.status == SubscriptionStatus.EXPIRED:
        return True
    return (
        sub.status == SubscriptionStatus.TRIAL
        and sub.trial_ends_at is not None
        and at >= sub.trial_ends_at
    )


def states_for(clients: Iterable[ClientCompany]) -> dict[int, ClientLicenceState]:
    """Licence state of many clients at once (for API responses)."""
    items = list(clients)
    if not items:
        return {}
    at = now()
    with transaction() as s:
        regs = {
            r.client_id: r
            for r in s.scalars(
                select(ClientRegistration).where(
                    ClientRegistration.client_id.in_([c.id for c in items])
                )
            )
        }
        subs = {
            sub.bureau_id: sub
            for sub in s.scalars(
                select(Subscription).where(Subscription.bureau_id.in_({c.bureau_id for c in items}))
            )
        }
        return {c.id: _state(c, regs.get(c.id), at, subs.get(c.bureau_id)) for c in items}


def guard_client_writable(s: Session, client: ClientCompany) -> None:
    """Raise ClientReadOnly (409) when the client may be read but not written."""
    installation.require_active()
    state = _state(
        client, s.get(ClientRegistration, client.id), now(), s.get(Subscription, client.bureau_id)
    )
    if not state.writable:
        error = BureauReadOnly if "trial" in (state.reason or "") else ClientReadOnly
        raise error(
            state.reason,
            client_id=client.id,
            licence=state.as_dict(),
            how_to_lift="POST /api/v1/clients/{id}/registration with action=register"
            if error is ClientReadOnly
            else "enter a licence number in the licence panel",
        )


def registration_status(actor: Actor, client_id: int) -> ClientLicenceState:
    with transaction() as s:
        client = load_client(s, actor, client_id)
        return _state(
            client,
            s.get(ClientRegistration, client_id),
            now(),
            s.get(Subscription, client.bureau_id),
        )


# ---------------------------------------------------------------------------- decisions
def decide(
    actor: Actor, client_id: int, *, action: str, display_name: str | None = None
) -> ClientLicenceState:
    """Register now, remind me later, or do not register."""
    if action not in ("register", "remind_later", "do_not_register"):
        raise ValidationFailed.single("action", "register, remind_later or do_not_register")
    at = now()
    with transaction() as s:
        client = load_client(s, actor, client_id)
        if not actor.administers_bureau(client.bureau_id):
            raise Forbidden("only a bureau admin registers clients against the licence")
        reg = s.get(ClientRegistration, client_id)
        if reg is None:
            reg = ClientRegistration(
                client_id=client_id,
                state=RegistrationState.PENDING,
                grace_started_at=client.created_at,
            )
            s.add(reg)
        if action == "register":
            name = check.text(display_name or client.name, "display_name")
            if reg.state != RegistrationState.REGISTERED:
                summary = _seat_summary(s, client.bureau_id, at)
                if summary["registered"] >= summary["seats"]:
                    raise SeatsExhausted(
                        f"all {summary['seats']} seats are taken; unregister a client or buy "
                        "more seats",
                        **summary,
                    )
            reg.state, reg.display_name = RegistrationState.REGISTERED, name
            reg.registered_at, reg.read_only_since = at, None
        elif action == "remind_later":
            if reg.state == RegistrationState.REGISTERED:
                raise Conflict("the client is already registered")
            reg.state, reg.grace_started_at, reg.read_only_since = (
                RegistrationState.PENDING,
                at,
                None,
            )
        else:
            reg.state, reg.declined_at, reg.read_only_since = RegistrationState.DECLINED, at, at
        reg.updated_at = at
        s.flush()
        state = _state(client, reg, at, s.get(Subscription, client.bureau_id))
        audit.for_client(
            s,
            actor,
            f"registration.{action}",
            client,
            detail=f"{client.name}: {state.state}",
        )
        return replace(state, summary=_seat_summary(s, client.bureau_id, at))


# ---------------------------------------------------------------------------- panel
def _seats(s: Session, bureau_id: int, at: datetime) -> int:
    licensed = (
        s.scalar(
            select(func.coalesce(func.sum(Licence.seats), 0)).where(
                Licence.bureau_id == bureau_id,
                Licence.kind == int(numbers.Kind.APPLICATION),
                Licence.revoked_at.is_(None),
            )
        )
        or 0
    )
    sub = s.get(Subscription, bureau_id)
    if (
        sub is not None
        and sub.status == SubscriptionStatus.TRIAL
        and not _subscription_expired(sub, at)
    ):
        licensed = max(int(licensed), numbers.Plan(sub.plan).trial_seats)
    registered = installation.status().seats  # a self-hosted installation's key is its licence
    if registered is None:
        return int(licensed)
    return min(int(licensed), registered) if licensed else registered


def _seat_summary(s: Session, bureau_id: int, at: datetime) -> dict[str, int]:
    clients = s.scalars(select(ClientCompany).where(ClientCompany.bureau_id == bureau_id)).all()
    regs = {
        r.client_id: r
        for r in s.scalars(
            select(ClientRegistration).where(
                ClientRegistration.client_id.in_([c.id for c in clients])
            )
        )
    }
    sub = s.get(Subscription, bureau_id)
    states = [_state(c, regs.get(c.id), at, sub) for c in clients]
    return {
        "seats": _seats(s, bureau_id, at),
        "registered": sum(1 for st in states if st.registration == "registered"),
        "active": sum(1 for st in states if st.writable),
        "clients": len(clients),
    }


def licence_panel(actor: Actor, bureau_id: int) -> dict[str, Any]:
    """What the licence panel shows (also answers "check registration status")."""
    if not actor.sees_bureau(bureau_id):
        raise NotFound("no such bureau")
    at = now()
    with transaction() as s:
        if s.get(Bureau, bureau_id) is None:
            raise NotFound("no such bureau")
        licences = s.scalars(
            select(Licence).where(Licence.bureau_id == bureau_id).order_by(Licence.id)
        ).all()
        sub = s.get(Subscription, bureau_id)
        summary = _seat_summary(s, bureau_id, at)
        support = [lic for lic in licences if lic.kind == numbers.Kind.SUPPORT]
        support_until = max((lic.valid_until for lic in support if lic.valid_until), default=None)
        has_app = any(
            lic.kind == numbers.Kind.APPLICATION and lic.revoked_at is None for lic in licences
        )
        trial_active = (
            sub is not None
            and sub.status == SubscriptionStatus.TRIAL
            and not _subscription_expired(sub, at)
        )
        support_expired = bool(support_until and support_until <= at)
        prompt = None
        if not has_app and not trial_active:
            prompt = "this bureau has no licence: enter the licence number you received"
        elif support_expired and support_until is not None:
            prompt = (
                f"the support and updates licence expired on {support_until:%d.%m.%Y}: enter "
                "the number of a renewed support licence to keep receiving updates"
            )
        return {
            **summary,
            "licences": [
                {
                    "number": numbers.format_number(lic.number),
                    "kind": numbers.Kind(lic.kind).name.lower(),
                    "plan": numbers.Plan(lic.plan).name.lower(),
                    "modules": numbers.Module(lic.modules).names(),
                    "seats": lic.seats,
                    "valid_until": lic.valid_until.isoformat() if lic.valid_until else None,
                }
                for lic in licences
            ],
            "subscription": None
            if sub is None
            else {
                "plan": numbers.Plan(sub.plan).name.lower(),
                "status": "expired" if _subscription_expired(sub, at) else sub.status,
                "trial_ends_at": sub.trial_ends_at.isoformat() if sub.trial_ends_at else None,
            },
            "support_valid_until": support_until.isoformat() if support_until else None,
            "support_expires_soon": bool(support_until and support_until - at <= SUPPORT_REMINDER),
            "support_expired": support_expired,
            "needs_licence_number": prompt is not None,
            "licence_number_prompt": prompt,
            "installation": installation.status().as_dict(),
        }


# ---------------------------------------------------------------------------- trials
def _plan(name: str) -> numbers.Plan:
    try:
        return numbers.Plan[name.upper()]
    except KeyError:
        raise ValidationFailed.single(
            "plan", "choose start, biuro, biuro_pro or enterprise"
        ) from None


def start_trial(
    *, bureau_nip: str, bureau_name: str, email: str, first_name: str, last_name: str, plan: str
) -> Bureau:
    """Self-service sign-up: a bureau, its admin and a 30-day trial of the chosen plan."""
    nip, name = check.nip(bureau_nip), check.text(bureau_name, "bureau_name")
    mail = check.email(email)
    plan_value = _plan(plan)
    at = now()
    with transaction() as s:
        if s.scalar(select(Bureau.id).where(Bureau.nip == nip)) is not None:
            raise Conflict("a bureau with this NIP already has an account", field="bureau_nip")
        if s.scalar(select(UserAccount.id).where(UserAccount.email == mail)) is not None:
            raise Conflict("an account with this e-mail already exists", field="email")
        bureau = Bureau(nip=nip, name=name)
        user = UserAccount(
            email=mail,
            person=Person(
                first_name=check.text(first_name, "first_name", max_length=100),
                last_name=check.text(last_name, "last_name", max_length=100),
                email=mail,
            ),
        )
        s.add_all([bureau, user])
        s.flush()
        s.add(Membership(user_id=user.id, bureau_id=bureau.id, role=Role.BUREAU_ADMIN))
        s.add(
            Subscription(
                bureau_id=bureau.id,
                plan=int(plan_value),
                status=SubscriptionStatus.TRIAL,
                trial_started_at=at,
                trial_ends_at=at + TRIAL,
            )
        )
        audit.record(
            s,
            None,
            "trial.started",
            bureau_id=bureau.id,
            object_type="bureau",
            object_id=bureau.id,
            label=mail,
            detail=f"{plan_value.name.lower()} until {at + TRIAL:%Y-%m-%d}",
        )
        enqueue_after_commit(
            s,
            "integration.accounts.jobs.send_welcome_email",
            job_id=job_id("welcome-email", user.id),
            queue="mail",
            user_id=user.id,
        )
    return bureau


def change_plan(actor: Actor, bureau_id: int, plan: str) -> None:
    """During a trial the plan is fixed for the bureau; only the platform admin changes it."""
    if not actor.is_platform_admin:
        raise Forbidden("the plan of a trial is fixed; the platform admin can change it")
    plan_value = _plan(plan)
    with transaction() as s:
        sub = s.get(Subscription, bureau_id)
        if sub is None:
            raise NotFound("no subscription for this bureau")
        sub.plan, sub.updated_at = int(plan_value), now()
        audit.record(
            s,
            actor,
            "plan.changed",
            bureau_id=bureau_id,
            object_type="bureau",
            object_id=bureau_id,
            detail=plan_value.name.lower(),
        )


def record_export(s: Session, bureau_id: int) -> None:
    sub = s.get(Subscription, bureau_id)
    if sub is not None:
        sub.exported_at = now()


def delete_trial_account(actor: Actor, bureau_id: int) -> None:
    """Remove a trial bureau and everything of it, once its data was exported."""
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin deletes accounts")
    with transaction() as s:
        sub = s.get(Subscription, bureau_id)
        bureau = s.get(Bureau, bureau_id)
        if bureau is None or sub is None:
            raise NotFound("no such trial account")
        if sub.status == SubscriptionStatus.ACTIVE:
            raise Conflict("the bureau has a subscription; only trial accounts are deleted")
        if sub.exported_at is None:
            raise Conflict(
                "export the bureau's data before deleting the account",
                how_to_lift="GET /api/v1/clients/{id}/master-data for each client",
            )
        clients = s.scalars(select(ClientCompany).where(ClientCompany.bureau_id == bureau_id)).all()
        user_ids = set(
            s.scalars(
                select(Membership.user_id).where(
                    (Membership.bureau_id == bureau_id)
                    | Membership.client_id.in_([c.id for c in clients])
                )
            )
        )
        client_ids = [c.id for c in clients]
        audit.record(
            s,
            actor,
            "trial.deleted",
            bureau_id=bureau_id,
            object_type="bureau",
            object_id=bureau_id,
            detail=f"{bureau.name}: {len(clients)} client(s)",
        )
        s.flush()
        s.expunge_all()  # plain DELETEs below; the schema cascades to every dependent row
        s.execute(delete(ClientCompany).where(ClientCompany.id.in_(client_ids)))
        s.execute(delete(Bureau).where(Bureau.id == bureau_id))
        for uid in user_ids:
            still = s.scalar(select(Membership.id).where(Membership.user_id == uid))
            user = s.get(UserAccount, uid)
            if still is None and user is not None and not user.is_platform_admin:
                s.delete(user)


# ---------------------------------------------------------------------------- daily job
def apply_deadlines() -> dict[str, int]:
    """Record grace expiries and trial ends; remind about support licences that expire."""
    at = now()
    result = {"read_only": 0, "trials_ended": 0, "support_reminders": 0}
    settings = current_settings()
    with transaction() as s:
        subs = {sub.bureau_id: sub for sub in s.scalars(select(Subscription))}
        for sub in subs.values():
            if sub.status == SubscriptionStatus.TRIAL and _subscription_expired(sub, at):
                sub.status, sub.updated_at = SubscriptionStatus.EXPIRED, at
                result["trials_ended"] += 1
        for client in s.scalars(select(ClientCompany)):
            reg = s.get(ClientRegistration, client.id)
            state = _state(client, reg, at, subs.get(client.bureau_id))
            if not state.writable and (reg is None or reg.read_only_since is None):
                if reg is None:
                    reg = ClientRegistration(
                        client_id=client.id,
                        state=RegistrationState.PENDING,
                        grace_started_at=client.created_at,
                    )
                    s.add(reg)
                reg.read_only_since, reg.updated_at = at, at
                result["read_only"] += 1
        for lic in s.scalars(
            select(Licence).where(
                Licence.kind == int(numbers.Kind.SUPPORT),
                Licence.bureau_id.is_not(None),
                Licence.reminded_at.is_(None),
                Licence.valid_until <= at + SUPPORT_REMINDER,
            )
        ):
            admins = member_emails(s, {Role.BUREAU_ADMIN}, bureau_id=lic.bureau_id)
            languages = languages_of(s, admins)
            until = lic.valid_until.strftime("%d.%m.%Y") if lic.valid_until else "?"
            for email in admins:
                tr = translator(languages.get(email))
                send(
                    s,
                    backend_for(settings.mail_backend),
                    Message(
                        key=f"support-reminder:{lic.id}:{email}",
                        recipient=email,
                        subject=tr.gettext("Your Delegat support licence expires soon"),
                        body=tr.gettext(
                            "The support and updates licence %(number)s is valid until "
                            "%(day)s. Renew it to keep receiving updates.",
                            number=numbers.format_number(lic.number),
                            day=until,
                        ),
                    ),
                )
            lic.reminded_at = at
            result["support_reminders"] += 1
    return result


@dataclass(frozen=True)
class SubscriptionRow:
    """A bureau's subscription as the platform's page lists it."""

    bureau_id: int
    plan: str
    status: str  # trial | active | expired
    trial_ends_at: datetime | None
    exported: bool

    @property
    def days_left(self) -> int | None:
        if self.trial_ends_at is None or self.status != SubscriptionStatus.TRIAL:
            return None
        return max(0, (self.trial_ends_at - now()).days)


def subscriptions(actor: Actor, bureau_ids: Sequence[int]) -> dict[int, SubscriptionRow]:
    """The subscriptions of these bureaus (the platform admin's list; one query)."""
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin sees the platform's pages")
    with transaction() as s:
        rows = s.scalars(
            select(Subscription).where(Subscription.bureau_id.in_(list(bureau_ids)))
        ).all()
        return {
            row.bureau_id: SubscriptionRow(
                row.bureau_id,
                numbers.Plan(row.plan).name.lower(),
                str(row.status),
                row.trial_ends_at,
                row.exported_at is not None,
            )
            for row in rows
        }
