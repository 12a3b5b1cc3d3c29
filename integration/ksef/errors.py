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


# Codes that mean something specific to callers.
CHALLENGE_INVALID = 21111
PUBLIC_KEY_UNKNOWN = 21470
NOT_AUTHORIZED = 21301
TOKEN_RIGHTS_NOT_HELD = 26001


class InputInvalid(KsefRejected):
    """21405: KSeF's validation of the request failed (details name the field)."""


class ChallengeInvalid(KsefRejected):
    """21111: the challenge is unknown, expired or used; start again."""


class PublicKeyUnknown(KsefRejected):
    """21470: re-read the public keys, encrypt again, retry once."""


class NotAuthorized(KsefRejected):
    """21301: tokens already redeemed, session revoked, or the status forbids it."""


class AuthOperationNotFound(KsefRejected):
    """21304: no such authentication operation."""


class SessionNotFound(KsefRejected):
    """21173: no such session in this context."""


class SessionClosed(KsefRejected):
    """21180: the session's status does not allow this (e.g. it is closed)."""


class InvoiceNotFound(KsefRejected):
    """21164: no such invoice, or not visible in this context."""


class InvoiceNotYetAvailable(KsefRejected):
    """21165: processed but not downloadable yet; retry later."""


class BeyondHighWaterMark(KsefRejected):
    """21183: nothing new yet (``from`` is after the high-water mark)."""


class TokenRightsNotHeld(KsefRejected):
    """26001: a KSeF token cannot carry rights its author does not hold."""


REJECTIONS: dict[int, type[KsefRejected]] = {
    21405: InputInvalid,
    CHALLENGE_INVALID: ChallengeInvalid,
    PUBLIC_KEY_UNKNOWN: PublicKeyUnknown,
    NOT_AUTHORIZED: NotAuthorized,
    21304: AuthOperationNotFound,
    21173: SessionNotFound,
    21180: SessionClosed,
    21164: InvoiceNotFound,
    21165: InvoiceNotYetAvailable,
    21183: BeyondHighWaterMark,
    TOKEN_RIGHTS_NOT_HELD: TokenRightsNotHeld,
}
