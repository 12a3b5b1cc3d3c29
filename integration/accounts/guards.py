"""Checks that higher layers (licensing) attach to writes on a client company.

Accounts cannot import licensing (the dependency points the other way); licensing registers
its guard here when the application is built, and every accounts write about a client calls
:func:`check_client_writable` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from integration.accounts.models import ClientCompany

ClientGuard = Callable[[Session, ClientCompany], None]
_guards: list[ClientGuard] = []


def register(guard: ClientGuard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def check_client_writable(s: Session, client: ClientCompany) -> None:
    for guard in _guards:
        guard(s, client)
