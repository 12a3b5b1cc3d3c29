"""Who may do what in which context: Owner, person, entity and indirect grants, tokens."""

from __future__ import annotations

from dataclasses import dataclass

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
