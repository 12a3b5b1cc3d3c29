"""Demo data for the embedded setup: one bureau, its people and three client companies."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from integration.accounts.actor import SYSTEM
from integration.accounts.models import (
    Bureau,
    ClientCompany,
    Membership,
    Person,
    Role,
    UserAccount,
)
from integration.accounts.secrets import hash_password
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict
from integration.credentials import service as credentials
from integration.credentials.models import KsefCredential
from integration.invoices import jobs as invoice_jobs
from integration.invoices import service as invoice_service
from integration.invoices.models import Direction, Invoice
from integration.licensing import service as licensing
from integration.licensing.models import Licence
from integration.quota import service as quota

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed to the operator, demo only
BUREAU = ("5260250274", "Biuro Rachunkowe Bilans Sp. z o.o.")
PEOPLE = [
    # role, e-mail, first name, last name, PESEL, tenant ("bureau" or client index)
    ("platform admin", "admin@delegat.local", "Platform", "Admin", None, None),
    ("bureau admin", "szef@bilans.example", "Anna", "Kowalska", "85021501233", "bureau"),
    ("accountant", "ksiegowa1@bilans.example", "Ewa", "Nowak", "90031204568", "bureau"),
    ("accountant", "ksiegowy2@bilans.example", "Piotr", "Wiśniewski", "77112307897", "bureau"),
    ("client admin", "prezes@zielony-ogrod.example", "Jan", "Zieliński", "02230501016", 0),
    ("client admin", "biuro@kamex.example", "Maria", "Kamińska", None, 1),
    ("client admin", "wlasciciel@piekarnia.example", "Tomasz", "Lewandowski", None, 2),
    ("client user", "kasia@zielony-ogrod.example", "Katarzyna", "Zielińska", None, 0),
]
CLIENTS = [
    ("1234563218", "Zielony Ogród Sp. z o.o."),
    ("7770001111", "Kamex S.A."),
    ("9510001233", "Piekarnia u Tomasza"),
]
# Suppliers of the demo clients in the local KSeF sandbox (their invoices are cost invoices).
SUPPLIERS = [
    ("6770012309", "Hurtownia Ogrodnicza Flora Sp. z o.o."),
    ("2223334443", "Biuro-Serwis Materiały Biurowe S.A."),
]
_ROLES = {
    "bureau admin": Role.BUREAU_ADMIN,
    "accountant": Role.ACCOUNTANT,
    "client admin": Role.CLIENT_ADMIN,
    "client user": Role.CLIENT_USER,
}


def ensure_user(
    *,
    email: str,
    first_name: str,
    last_name: str,
    password: str,
    platform_admin: bool = False,
    pesel: str | None = None,
) -> UserAccount:
    with transaction() as s:
        user = s.scalar(select(UserAccount).where(UserAccount.email == email))
        if user is None:
            person = Person(first_name=first_name, last_name=last_name, email=email, pesel=pesel)
            # Demo and CLI accounts get their password directly: no welcome e-mail.
            user = UserAccount(
                email=email,
                person=person,
                password_hash=hash_password(password),
                is_platform_admin=platform_admin,
                welcome_sent_at=now(),
            )
            s.add(user)
    return user


def _licence(bureau_id: int, client_ids: list[int]) -> None:
    """A 10-seat licence with every module; two clients registered, the third left to show
    the prompt."""
    with transaction() as s:
        if s.scalar(select(Licence.id).where(Licence.bureau_id == bureau_id)) is not None:
            return
    licensing.issue_licence(
        SYSTEM, kind="application", plan="enterprise", seats=10, bureau_id=bureau_id
    )
    for client_id in client_ids[:2]:
        licensing.decide(SYSTEM, client_id, action="register")


def _package(bureau_id: int) -> None:
    """A prepaid KSeF package of 1000 operations (once)."""
    with transaction() as s:
        if quota.available(s, bureau_id) > 0:
            return
    try:
        quota.top_up(SYSTEM, bureau_id, amount=1000, reference="demo package")
    except Conflict:  # spent in an earlier run; the demo does not refill it
        return


def load() -> list[tuple[str, str, str]]:
    """Create what is missing and return (role, e-mail, password) of every demo login."""
    with transaction() as s:
        bureau = s.scalar(select(Bureau).where(Bureau.nip == BUREAU[0]))
        if bureau is None:
            bureau = Bureau(nip=BUREAU[0], name=BUREAU[1])
            s.add(bureau)
            s.flush()
        clients = []
        for nip, name in CLIENTS:
            client = s.scalar(
                select(ClientCompany).where(
                    ClientCompany.bureau_id == bureau.id, ClientCompany.nip == nip
                )
            )
            if client is None:
                client = ClientCompany(bureau_id=bureau.id, nip=nip, name=name)
                s.add(client)
                s.flush()
            clients.append(client)
        bureau_id, client_ids = bureau.id, [c.id for c in clients]

    _licence(bureau_id, client_ids)
    _package(bureau_id)
    logins = []
    for role, email, first, last, pesel, tenant in PEOPLE:
        user = ensure_user(
            email=email,
            first_name=first,
            last_name=last,
            password=DEMO_PASSWORD,
            platform_admin=tenant is None,
            pesel=pesel,
        )
        if tenant is not None:
            with transaction() as s:
                where = (
                    {"bureau_id": bureau_id}
                    if tenant == "bureau"
                    else {"client_id": client_ids[int(tenant)]}
                )
                exists = s.scalar(select(Membership.id).filter_by(user_id=user.id, **where))
                if exists is None:
                    s.add(Membership(user_id=user.id, role=_ROLES[role], **where))
        logins.append((role, email, DEMO_PASSWORD))
    return logins


def clients_without_ksef() -> list[tuple[int, str]]:
    """(id, NIP) of the demo clients whose KSeF token the bureau does not hold yet."""
    with transaction() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.nip == BUREAU[0]))
        if bureau_id is None:
            return []
        connected = select(KsefCredential.client_id).where(KsefCredential.kind == "ksef_token")
        rows = s.execute(
            select(ClientCompany.id, ClientCompany.nip)
            .where(ClientCompany.bureau_id == bureau_id, ClientCompany.id.not_in(connected))
            .order_by(ClientCompany.id)
        ).all()
        return [(client_id, nip) for client_id, nip in rows]


def connect_ksef(client_id: int, token: str) -> None:
    """Keep a demo client's KSeF token (tested against KSeF first) and pull its cost invoices."""
    credentials.store_ksef_token(SYSTEM, client_id, token, label="demo KSeF token")
    invoice_service.start_cost_sync(SYSTEM, client_id)


_LATER = ("unavailable", "rescheduled", "rate-limited", "busy")  # a run that goes on later


def download_costs(rounds: int = 10, pause: float = 1.0) -> int:
    """Download the demo clients' cost invoices now, in this process (the sandbox has just
    started: a client whose run met a fault is tried again shortly); how many are here."""
    with transaction() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.nip == BUREAU[0]))
        clients = list(
            s.scalars(select(ClientCompany.id).where(ClientCompany.bureau_id == bureau_id))
        )
    waiting = set(clients)
    for _ in range(rounds):
        for client_id in sorted(waiting):
            if invoice_jobs.sync_costs(client_id) not in _LATER:
                waiting.discard(client_id)
        if not waiting:
            break
        time.sleep(pause)
    with transaction() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(Invoice.client_id.in_(clients), Invoice.direction == Direction.COST)
            )
            or 0
        )
