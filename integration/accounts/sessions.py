"""Signed-in sessions, kept in the database so that they can be ended at once.

The browser's cookie carries a random token; the database keeps its SHA-256 with the person,
the address and the times. Every request looks its session up: an ended, expired or
deactivated person's session is no session, whatever the cookie still says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration.accounts.actor import Actor, actor_for_user
from integration.accounts.models import UserAccount, UserSession
from integration.accounts.secrets import new_token, token_digest
from integration.core.clock import now
from integration.core.db import transaction

LIFETIME = timedelta(hours=12)
# last_seen_at is written at most this often, not on every request
SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Opened:
    token: str  # for the cookie only
    session_id: int


def open_session(s: Session, user: UserAccount, *, address: str, user_agent: str) -> Opened:
    """A new session of ``user`` in the caller's transaction."""
    token = new_token(32)
    stamp = now()
    row = UserSession(
        token_hash=token_digest(token),
        user_id=user.id,
        address=address[:45],
        user_agent=user_agent[:300],
        created_at=stamp,
        last_seen_at=stamp,
        expires_at=stamp + LIFETIME,
    )
    s.add(row)
    s.flush()
    return Opened(token=token, session_id=row.id)


def actor_for_session(token: str, *, address: str) -> Actor | None:
    """The person of a live session, or None when it ended, expired or they were deactivated."""
    stamp = now()
    with transaction() as s:
        row = s.scalar(select(UserSession).where(UserSession.token_hash == token_digest(token)))
        if row is None or row.ended_at is not None or row.expires_at <= stamp:
            return None
        user = s.get(UserAccount, row.user_id)
        if user is None or not user.is_active:
            return None
        if stamp - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = stamp
        return replace(
            actor_for_user(s, user),
            address=address,
            session_id=row.id,
            must_change_password=user.must_change_password,
        )


def close_session(token: str, reason: str = "signed_out") -> None:
    with transaction() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.token_hash == token_digest(token), UserSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason)
        )


def end_sessions(s: Session, user_id: int, reason: str, *, keep: int | None = None) -> int:
    """End every live session of the person (but ``keep``) in the caller's transaction."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = s.execute(stmt.values(ended_at=now(), end_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]
