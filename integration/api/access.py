"""What each API operation asks of its caller, declared once beside its handler.

Every operation carries exactly one declaration: :func:`public` (no sign-in), :func:`signed_in`
(any person or token), :func:`people_only` (a signed-in person; bearer tokens are refused) or
:func:`requires` (the OAuth2 scopes a bearer token must hold; people are limited by their
roles). The declaration is written into the OpenAPI document as the operation's ``security``
and enforced by :func:`enforce` before the handler runs or its arguments are parsed. An API
operation without a declaration refuses bearer tokens: a forgotten declaration fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import current_app, request
from flask_smorest import Blueprint

from integration.accounts.actor import SCOPES
from integration.api.auth import current_actor, has_bearer, has_session
from integration.core.errors import Forbidden, Unauthenticated

F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["public", "signed_in", "people", "scopes"]
ATTRIBUTE = "_delegat_access"
API_PREFIXES = ("/api/",)
DOCUMENT_BLUEPRINT = "api-docs"  # flask-smorest's, which serves /api/v1/openapi.json


class PeopleOnly(Forbidden):
    slug, title = "people-only", "Only a signed-in person may do this"


class PasswordChangeRequired(Forbidden):
    slug, title = "password-change-required", "Change the password you were given first"


# What a person who must change their password may still do
_WHILE_PASSWORD_GIVEN = frozenset({"api.change_password", "api.logout", "api.me", "api.login"})


@dataclass(frozen=True)
class Access:
    kind: Kind
    scopes: tuple[str, ...] = ()

    @property
    def security(self) -> list[dict[str, list[str]]]:
        """The operation's OpenAPI ``security`` requirement."""
        if self.kind == "public":
            return []
        if self.kind == "people":
            return [{"session": []}]
        return [{"bearer": list(self.scopes)}, {"session": []}]


def _declare(access: Access) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        documented: F = Blueprint.doc(security=access.security)(func)
        setattr(documented, ATTRIBUTE, access)
        return documented

    return decorator


def public() -> Callable[[F], F]:
    """Anyone, signed in or not (sign-in itself, trials, activation)."""
    return _declare(Access("public"))


def signed_in() -> Callable[[F], F]:
    """Any signed-in person or bearer token, whatever its scopes."""
    return _declare(Access("signed_in"))


def people_only() -> Callable[[F], F]:
    """A signed-in person: their own password and session, the platform's operations."""
    return _declare(Access("people"))


def requires(*scopes: str) -> Callable[[F], F]:
    """Bearer tokens must hold every one of ``scopes``."""
    unknown = set(scopes) - SCOPES
    if not scopes or unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {sorted(SCOPES)}")
    return _declare(Access("scopes", tuple(scopes)))


def declared(view: Callable[..., Any], method: str) -> Access | None:
    """The declaration of ``method`` on a registered view function (a function or MethodView)."""
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return getattr(view, ATTRIBUTE, None)
    name = "get" if method == "HEAD" else method.lower()
    handler = getattr(view_class, name, None)
    return getattr(handler, ATTRIBUTE, None) if handler is not None else None


def _password_changed_first() -> None:
    """A person signed in with a given password changes it before anything else."""
    if request.endpoint in _WHILE_PASSWORD_GIVEN or not has_session():
        return
    try:
        actor = current_actor()
    except Unauthenticated:
        return  # the operation itself answers 401
    if actor.must_change_password:
        raise PasswordChangeRequired(
            "you signed in with a password you were given; change it first "
            "(POST /api/v1/auth/password)"
        )


def enforce() -> None:
    """Before every API request: hold a bearer token to what its operation declares."""
    if request.endpoint is None or request.method == "OPTIONS":
        return
    if not request.path.startswith(API_PREFIXES) or request.blueprint == DOCUMENT_BLUEPRINT:
        return  # the OpenAPI document itself is for everyone
    if not has_bearer():
        _password_changed_first()
        return
    access = declared(current_app.view_functions[request.endpoint], request.method)
    if access is None or access.kind == "people":
        current_actor()  # an invalid token is a 401 first
        raise PeopleOnly("this operation is open to signed-in people only, not to API clients")
    if access.kind == "public":
        return
    actor = current_actor()
    for scope in access.scopes:
        actor.require_scope(scope)
