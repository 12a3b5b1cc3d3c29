"""Typed KSeF errors, carrying the KSeF exception code where there is one."""

from __future__ import annotations


class KsefError(Exception):
    """Any failure talking to KSeF."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.details = status, code, details or []

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.code is not None:
            parts.append(f"(KSeF {self.code})")
        if self.details:
            parts.append("; ".join(self.details))
        return " ".join(parts)


class KsefRejected(KsefError):
    """400 with an ExceptionResponse: the request was understood and refused."""


class KsefUnauthorized(KsefError):
    """401: the bearer token is missing, invalid or expired."""


class KsefForbidden(KsefError):
    """403 with a reason code (missing-permissions, ip-not-allowed, ...)."""

    def __init__(self, message: str, *, reason: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.reason = reason


class KsefRateLimited(KsefError):
    """429: wait ``retry_after`` seconds before the next call in this context."""

    def __init__(self, message: str, *, retry_after: int, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class KsefUnavailable(KsefError):
    """5xx, timeouts and dropped connections: retry later with back-off."""


# Codes that mean something specific to callers (per endpoint).
CHALLENGE_INVALID = 21111
PUBLIC_KEY_UNKNOWN = 21470
NOT_AUTHORIZED = 21301
TOKEN_RIGHTS_NOT_HELD = 26001
