"""Throttling of sign-in, counted in Redis with the ``limits`` library (Flask-Limiter's core).

Only failed attempts count, per account (e-mail) and per address, in a moving window. Past
either limit the account (or the address) is locked for the rest of the window: the API
answers 429 with Retry-After and the sign-in page says so; both read the same counters, so
alternating between them gains nothing. Each application has its own storage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from integration.core.errors import DomainError

log = logging.getLogger(__name__)
# Failed sign-ins allowed before a lockout, per account and per address.
ACCOUNT_LIMIT = parse("5 per 15 minutes")
ADDRESS_LIMIT = parse("20 per hour")
_EXTENSION = "delegat.throttle"


class TooManyAttempts(DomainError):
    status, slug, title = 429, "too-many-attempts", "Too many failed sign-in attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"sign-in is locked after too many failed attempts; try again in {retry_after} s",
            retry_after=retry_after,
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class SignInThrottle:
    storage: Storage
    window: MovingWindowRateLimiter

    def _keys(self, email: str, address: str) -> list[tuple[RateLimitItem, str]]:
        return [
            (ACCOUNT_LIMIT, f"account:{email.strip().lower()[:254]}"),
            (ADDRESS_LIMIT, f"address:{address}"),
        ]

    def check(self, email: str, address: str) -> None:
        """Raise :class:`TooManyAttempts` while the account or the address is locked."""
        try:
            waits = [
                self.window.get_window_stats(limit, "sign-in", key).reset_time - time.time()
                for limit, key in self._keys(email, address)
                if not self.window.test(limit, "sign-in", key)
            ]
        except (StorageError, RedisError, OSError):
            log.warning("sign-in throttle unavailable; the attempt is let through")
            return
        if waits:
            raise TooManyAttempts(max(1, int(max(waits)) + 1))

    def failed(self, email: str, address: str) -> None:
        try:
            for limit, key in self._keys(email, address):
                self.window.hit(limit, "sign-in", key)
        except (StorageError, RedisError, OSError):
            log.warning("sign-in throttle unavailable; a failed attempt went uncounted")


def init_app(app: Flask, redis_url: str | None) -> None:
    storage = storage_from_string(redis_url or "memory://", key_prefix="delegat-limits")
    assert isinstance(storage, Storage)  # a synchronous storage for a synchronous app
    app.extensions[_EXTENSION] = SignInThrottle(storage, MovingWindowRateLimiter(storage))


def current() -> SignInThrottle:
    throttle = current_app.extensions[_EXTENSION]
    assert isinstance(throttle, SignInThrottle)
    return throttle
