"""Operations behind the sandbox command line (and the tests' fixtures)."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from integration.ksef_sandbox import crypto, testkit
from integration.ksef_sandbox.api_permissions import mint_token
from integration.ksef_sandbox.rights import Identity, record_grant
from integration.ksef_sandbox.state import Invoice, InvoiceSession, Store, Subject


def make_company(store: Store, nip: str, name: str) -> None:
    if not crypto.valid_nip(nip):
        raise ValueError(f"{nip} is not a valid NIP")
    with store.session() as s:
        if (
            s.scalar(sa.select(Subject.id).where(Subject.kind == "entity", Subject.nip == nip))
            is None
        ):
            s.add(Subject(kind="entity", nip=nip, description=name))


def make_person(store: Store, nip: str, pesel: str) -> None:
    if not crypto.valid_nip(nip) or not crypto.valid_pesel(pesel):
        raise ValueError("invalid NIP or PESEL")
    with store.session() as s:
        s.add(Subject(kind="person", nip=nip, pesel=pesel, description=""))


def make_token(
    store: Store,
    nip: str,
    permissions: list[str],
    *,
    author_nip: str | None = None,
    author_pesel: str | None = None,
) -> tuple[str, str]:
    author = Identity("Pesel", author_pesel) if author_pesel else Identity("Nip", author_nip or nip)
    with store.session() as s:
        return mint_token(
            s,
            now=store.now(),
            context_type="Nip",
            context_value=nip,
            author=author,
            permissions=permissions,
            description="sandbox CLI token",
            active_after=dt.timedelta(0),
        )


def issue_invoices(
    store: Store,
    seller: str,
    buyer: str,
    count: int,
    now: dt.datetime,
    *,
    seller_name: str = "Sprzedawca Sp. z o.o.",
) -> list[str]:
    """Accepted invoices of ``seller`` to ``buyer``, as if sent through an online session."""
    numbers = []
    with store.session() as s:
        session = InvoiceSession(
            reference_number=crypto.reference_number("SO", now),
            session_type="Online",
            context_type="Nip",
            context_value=seller,
            auth_reference="sandbox-cli",
            form_code={"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            status_code=200,
            created_at=now,
            updated_at=now,
            closed_at=now,
            valid_until=now,
            invoice_count=count,
        )
        s.add(session)
        for i in range(count):
            number = f"FV/{now:%Y%m%d}/{secrets.token_hex(3).upper()}/{i + 1}"
            xml = testkit.fa3_invoice(
                seller_nip=seller,
                buyer_nip=buyer,
                number=number,
                issue_date=now.date(),
                created_at=now,
                seller_name=seller_name,
            )
            ksef = crypto.ksef_number(seller, now)
            s.add(
                Invoice(
                    reference_number=crypto.reference_number("EE", now),
                    session_reference=session.reference_number,
                    ordinal_number=i + 1,
                    invoice_hash=crypto.sha256_b64(xml),
                    invoice_size=len(xml),
                    xml=xml,
                    status_code=200,
                    invoicing_date=now,
                    acquisition_date=now,
                    permanent_storage_date=now,
                    ksef_number=ksef,
                    invoicing_mode="Online",
                    invoice_number=number,
                    invoice_type="VAT",
                    seller_nip=seller,
                    buyer_nip=buyer,
                    meta={
                        "issueDate": now.date().isoformat(),
                        "sellerName": seller_name,
                        "buyerName": "Nabywca Sp. z o.o.",
                        "buyerIdentifier": {"type": "Nip", "value": buyer},
                        "netAmount": 100.0,
                        "vatAmount": 23.0,
                        "grossAmount": 123.0,
                        "currency": "PLN",
                        "hasAttachment": False,
                        "thirdSubjects": [],
                    },
                )
            )
            numbers.append(ksef)
    return numbers


def grant(
    store: Store,
    *,
    kind: str,
    context_nip: str,
    grantee_type: str,
    grantee_value: str,
    permissions: list[str],
    can_delegate: bool = False,
    target_nip: str | None = None,
    description: str = "granted with the sandbox CLI",
) -> None:
    """A permission record as if the context's owner granted it (idempotent)."""
    with store.session() as s:
        record_grant(
            s,
            now=store.now(),
            kind=kind,
            context=("Nip", context_nip),
            author=Identity("Nip", context_nip),
            grantee=(grantee_type, grantee_value),
            permissions=[(p, can_delegate) for p in permissions],
            description=description,
            target=("Nip", target_nip) if target_nip else None,
        )
