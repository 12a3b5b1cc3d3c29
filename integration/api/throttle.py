"""Throttling of sign-in (Flask-Limiter, counted in Redis): per account and per address.

Only failed attempts count. Past the limit the account (or the address) is locked for the
rest of the window: 429 with Retry-After, on the API and on the sign-in page alike, whose
counters are shared so that alternating between them gains nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

F = TypeVar("F", bound=Callable[..., Any])

# Failed sign-ins allowed before a lockout, per account (e-mail) and per address.
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "20 per hour"

limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[],
    headers_enabled=True,
    strategy="moving-window",
    key_prefix="delegat-limits",
)


def init_app(app: Flask, redis_url: str | None) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    limiter.init_app(app)


def _account() -> str:
    """The e-mail being signed in to, from the page's form or the API's JSON."""
    body = request.get_json(silent=True) if request.is_json else None
    email = body.get("email") if isinstance(body, dict) else request.form.get("email")
    return f"account:{str(email or '').strip().lower()[:254]}"


def _address() -> str:
    return f"address:{get_remote_address()}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def sign_in() -> Callable[[F], F]:
    """Throttle a sign-in view (failed attempts, per account and per address)."""

    def decorator(func: F) -> F:
        for limit, key, scope in (
            (ACCOUNT_LIMIT, _account, "sign-in-account"),
            (ADDRESS_LIMIT, _address, "sign-in-address"),
        ):
            limited = limiter.shared_limit(limit, scope=scope, key_func=key, deduct_when=_failed)
            func = cast(F, limited(func))
        return func

    return decorator


def retry_after() -> int:
    """Whole seconds until the limit this request broke lets the next attempt through."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, int(breached.reset_at - time.time()) + 1)
