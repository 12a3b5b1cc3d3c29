"""Who is calling: a browser session (e-mail and password) or an OAuth2 bearer token."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import request, session
from sqlalchemy import select

from integration.accounts import service as accounts
from integration.accounts import sessions
from integration.accounts.actor import Actor, actor_for_api_client
from integration.accounts.models import ApiToken, ClientCompany
from integration.api import throttle
from integration.api.oauth import require_oauth
from integration.core.db import transaction
from integration.core.errors import Forbidden, Unauthenticated
from integration.licensing import service as licensing
from integration.licensing.numbers import Module

SESSION_KEY = "sid"  # the session's token; the database says whose it is and whether it lives
_ACTOR_KEY = "delegat.actor"  # per request, unlike flask.g which lives as long as the app context


def current_actor() -> Actor:
    """The actor of this request, or Unauthenticated (401)."""
    cached = request.environ.get(_ACTOR_KEY)
    if isinstance(cached, Actor):
        return cached
    actor = _bearer_actor() if has_bearer() else _session_actor()
    request.environ[_ACTOR_KEY] = actor
    return actor


def has_session() -> bool:
    return isinstance(session.get(SESSION_KEY), str)


def has_bearer() -> bool:
    return request.headers.get("Authorization", "")[:7].lower() == "bearer "


def _bearer_actor() -> Actor:
    try:
        token = require_oauth.acquire_token()
    except OAuth2Error as exc:
        raise Unauthenticated(
            exc.description or "the bearer token is invalid or expired", error=exc.error
        ) from None
    with transaction() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.id == token.row.id))
        assert row is not None
        api_client = row.api_client
        bureau_id = api_client.bureau_id
        if bureau_id is None and api_client.client_company_id is not None:
            company = s.get(ClientCompany, api_client.client_company_id)
            bureau_id = company.bureau_id if company is not None else None
        if bureau_id is not None:
            licensing.require_module(s, bureau_id, Module.API_ACCESS)
        return actor_for_api_client(
            api_client, frozenset(row.scopes.split()), address=client_address()
        )


def _session_actor() -> Actor:
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        raise Unauthenticated()
    actor = sessions.actor_for_session(token, address=client_address())
    if actor is None:
        session.clear()
        raise Unauthenticated("your session has ended; sign in again")
    return actor


def client_address() -> str:
    return request.remote_addr or ""


def require_json_for_session_writes() -> None:
    """Refuse cookie-authenticated writes that are not JSON.

    A cross-site form can only GET or POST, and cannot POST JSON or set a custom header without
    a CORS preflight (which other methods always need): this closes CSRF for the API.
    Bearer-token calls carry no ambient credentials and are exempt.
    """
    if request.method != "POST" or request.headers.get("Authorization"):
        return
    same_origin = request.is_json or "X-Requested-With" in request.headers
    if session.get(SESSION_KEY) is not None and not same_origin:
        raise Forbidden(
            "browser-session writes to the API must be sent as application/json "
            "(or, for file uploads, with an X-Requested-With header)"
        )


def sign_in(email: str, password: str) -> bool:
    """Open a session; False for a wrong password, TooManyAttempts while locked out."""
    guard, address = throttle.current(), client_address()
    guard.check(email, address)
    opened = accounts.sign_in(
        email,
        password,
        address=address,
        user_agent=request.headers.get("User-Agent", ""),
    )
    if opened is None:
        guard.failed(email, address)
        return False
    session.clear()
    session[SESSION_KEY] = opened.token
    session.permanent = True
    return True


def sign_out() -> None:
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        sessions.close_session(token)
    session.clear()
