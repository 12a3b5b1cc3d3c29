"""Who may do what in which context: Owner, person, entity and indirect grants, tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.ksef_sandbox.state import Grant, KsefToken, Subject

INVOICE_RIGHTS = frozenset({"InvoiceRead", "InvoiceWrite"})
PERSON_RIGHTS = frozenset(
    {
        "CredentialsManage",
        "CredentialsRead",
        "InvoiceWrite",
        "InvoiceRead",
        "Introspection",
        "SubunitManage",
        "EnforcementOperations",
    }
)
OWNER_RIGHTS = PERSON_RIGHTS - {"EnforcementOperations"} | {"Owner"}


@dataclass(frozen=True)
class Identity:
    """Who authenticated: a NIP, a PESEL or a certificate fingerprint."""

    type: str  # Nip | Pesel | Fingerprint
    value: str


def _active(s: Session) -> sa.ColumnElement[bool]:
    return Grant.revoked_at.is_(None)


def linked_nips(s: Session, pesel: str) -> set[str]:
    rows = s.scalars(
        sa.select(Subject.nip).where(Subject.kind == "person", Subject.pesel == pesel)
    ).all()
    return set(rows)


def is_owner(s: Session, who: Identity, context_nip: str) -> bool:
    if who.type == "Nip":
        return who.value == context_nip
    if who.type == "Pesel":
        return context_nip in linked_nips(s, who.value)
    return False


def _grantee_matches(who: Identity) -> sa.ColumnElement[bool]:
    return sa.and_(Grant.grantee_type == who.type, Grant.grantee_value == who.value)


def delegable(s: Session, client_nip: str, intermediary_nip: str) -> set[str]:
    """Invoice rights the client delegated to the intermediary with canDelegate."""
    rows = s.scalars(
        sa.select(Grant.permission).where(
            Grant.kind == "entity",
            Grant.context_value == client_nip,
            Grant.grantee_type == "Nip",
            Grant.grantee_value == intermediary_nip,
            Grant.can_delegate.is_(True),
            _active(s),
        )
    ).all()
    return set(rows)


def effective_rights(s: Session, who: Identity, context_type: str, context_value: str) -> set[str]:
    """Every right ``who`` holds in the context, whatever its source."""
    rights: set[str] = set()
    if context_type == "Nip" and is_owner(s, who, context_value):
        rights |= OWNER_RIGHTS
    direct = s.scalars(
        sa.select(Grant.permission).where(
            Grant.kind.in_(("person", "subunit")),
            Grant.context_type == context_type,
            Grant.context_value == context_value,
            _grantee_matches(who),
            _active(s),
        )
    ).all()
    rights |= set(direct)
    if who.type == "Nip":
        entity = s.scalars(
            sa.select(Grant.permission).where(
                Grant.kind == "entity",
                Grant.context_value == context_value,
                Grant.grantee_type == "Nip",
                Grant.grantee_value == who.value,
                _active(s),
            )
        ).all()
        rights |= set(entity)
    if context_type == "Nip":
        indirect = s.scalars(
            sa.select(Grant).where(
                Grant.kind == "indirect",
                _grantee_matches(who),
                _active(s),
                sa.or_(
                    Grant.target_type.is_(None),
                    Grant.target_type == "AllPartners",
                    sa.and_(Grant.target_type == "Nip", Grant.target_value == context_value),
                ),
            )
        ).all()
        for grant in indirect:
            if grant.permission in delegable(s, context_value, grant.context_value):
                rights.add(grant.permission)
    return rights


def token_rights(s: Session, token: KsefToken) -> set[str]:
    """A KSeF token's rights: what it was issued with, as far as its author still holds them."""
    author = Identity(token.author_type, token.author_value)
    held = effective_rights(s, author, token.context_type, token.context_value)
    if "Owner" in held:
        held |= OWNER_RIGHTS
    return set(token.permissions) & held


def satisfies(held: set[str], any_of: frozenset[str]) -> bool:
    return "Owner" in held or bool(held & any_of)


def record_grant(
    s: Session,
    *,
    now: dt.datetime,
    kind: str,
    context: tuple[str, str],
    author: Identity,
    grantee: tuple[str, str],
    permissions: list[tuple[str, bool]],
    description: str,
    details: dict[str, Any] | None = None,
    target: tuple[str, str | None] | None = None,
) -> None:
    """Record grants; one already active for the same grantee and target is updated."""
    target_type, target_value = target if target is not None else (None, None)
    for permission, can_delegate in permissions:
        existing = s.scalar(
            sa.select(Grant).where(
                Grant.kind == kind,
                Grant.context_value == context[1],
                Grant.grantee_type == grantee[0],
                Grant.grantee_value == grantee[1],
                Grant.permission == permission,
                Grant.revoked_at.is_(None),
                Grant.target_type.is_(None)
                if target_type is None
                else Grant.target_type == target_type,
                Grant.target_value.is_(None)
                if target_value is None
                else Grant.target_value == target_value,
            )
        )
        if existing is not None:
            existing.can_delegate = can_delegate
            continue
        s.add(
            Grant(
                id=str(uuid.uuid4()),
                kind=kind,
                context_type=context[0],
                context_value=context[1],
                grantee_type=grantee[0],
                grantee_value=grantee[1],
                target_type=target_type,
                target_value=target_value,
                permission=permission,
                can_delegate=can_delegate,
                description=description,
                author_type=author.type,
                author_value=author.value,
                subject_details=details,
                start_date=now,
            )
        )
