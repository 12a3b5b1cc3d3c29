"""JWTs of the sandbox (HS256 with its own secret) and the bearer checks of every call."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from flask import current_app, request
from sqlalchemy.orm import Session

from integration.ksef_sandbox.errors import ProblemError
from integration.ksef_sandbox.rights import Identity, satisfies
from integration.ksef_sandbox.state import AuthOperation, Setting, Store

AUTH_TOKEN_TTL = dt.timedelta(minutes=45)
ACCESS_TOKEN_TTL = dt.timedelta(minutes=15)
REFRESH_TOKEN_TTL = dt.timedelta(days=7)
ISSUER = "ksef-sandbox"


def jwt_secret(store: Store) -> str:
    """The signing secret, kept in the state database and cached on the store."""
    if store.jwt_secret is not None:
        return store.jwt_secret
    with store.session() as s:
        row = s.get(Setting, "jwt_secret")
        if row is None:
            row = Setting(key="jwt_secret", value=secrets.token_urlsafe(48))
            s.add(row)
        value = row.value
    store.jwt_secret = value
    return value


def issue(
    store: Store, token_type: str, op: AuthOperation, ttl: dt.timedelta, **claims: Any
) -> tuple[str, dt.datetime]:
    now = store.now()
    until = now + ttl
    payload = {
        "token-type": token_type,
        "operation-reference-number": op.reference_number,
        "context-identifier-type": op.context_type,
        "context-identifier-value": op.context_value,
        "subject-type": op.subject_type,
        "subject-value": op.subject_value,
        "iss": ISSUER,
        "aud": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int(until.timestamp()),
        "jti": secrets.token_hex(8),
        **claims,
    }
    return jwt.encode(payload, jwt_secret(store), algorithm="HS256"), until


@dataclass(frozen=True)
class Caller:
    """The bearer of an access token."""

    reference_number: str
    context_type: str
    context_value: str
    identity: Identity | None
    permissions: frozenset[str]
    ksef_token_ref: str | None
    allowed_ips: dict[str, Any] | None

    def require(self, any_of: frozenset[str]) -> None:
        if not satisfies(set(self.permissions), any_of):
            raise ProblemError(
                403,
                "Brak wymaganych uprawnień do wykonania operacji.",
                reason_code="missing-permissions",
                security={
                    "requiredAnyOfPermissions": sorted(any_of),
                    "presentPermissions": sorted(self.permissions),
                },
            )


def _store() -> Store:
    store = current_app.extensions["ksef_sandbox.store"]
    assert isinstance(store, Store)
    return store


def decode(token_type: str | tuple[str, ...]) -> dict[str, Any]:
    """The claims of the request's bearer token of the given type, or 401."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise ProblemError(401, "Wymagane jest uwierzytelnienie.")
    store = _store()
    try:
        claims: dict[str, Any] = jwt.decode(
            header[7:].strip(),
            jwt_secret(store),
            algorithms=["HS256"],
            audience=ISSUER,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise ProblemError(401, "Nieprawidłowy token.") from None
    if claims.get("exp", 0) <= store.now().timestamp():
        raise ProblemError(401, "Token wygasł.")
    types = (token_type,) if isinstance(token_type, str) else token_type
    if claims.get("token-type") not in types:
        raise ProblemError(401, "Nieprawidłowy typ tokena.")
    return claims


def context_of_request() -> str | None:
    """The context named by the request's bearer token, without validating it (for limits)."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    try:
        claims = jwt.decode(header[7:].strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    value = claims.get("context-identifier-value")
    return str(value) if value else None


def _ip_allowed(policy: dict[str, Any] | None, ip: str | None) -> bool:
    if not policy or not ip:
        return True
    addr = ipaddress.ip_address(ip)
    allowed = policy.get("allowedIps") or {}
    if ip in (allowed.get("ip4Addresses") or []):
        return True
    for mask in allowed.get("ip4Masks") or []:
        if addr in ipaddress.ip_network(mask, strict=False):
            return True
    for span in allowed.get("ip4Ranges") or []:
        low, _, high = span.partition("-")
        first, last = ipaddress.ip_address(low), ipaddress.ip_address(high)
        if first.version == last.version == addr.version and int(first) <= int(addr) <= int(last):
            return True
    return not any(allowed.get(k) for k in ("ip4Addresses", "ip4Masks", "ip4Ranges"))


def caller(s: Session) -> Caller:
    claims = decode("ContextToken")
    op = s.get(AuthOperation, claims["operation-reference-number"])
    if op is None:
        raise ProblemError(401, "Nieznana operacja uwierzytelnienia.")
    if not _ip_allowed(op.allowed_ips, request.remote_addr):
        raise ProblemError(
            403,
            "Żądanie pochodzi z niedozwolonego adresu IP.",
            reason_code="ip-not-allowed",
            security={"clientIp": request.remote_addr},
        )
    identity = (
        Identity(op.subject_type, op.subject_value)
        if op.subject_type and op.subject_value
        else None
    )
    return Caller(
        op.reference_number,
        op.context_type,
        op.context_value,
        identity,
        frozenset(claims.get("permissions", [])),
        op.ksef_token_ref,
        op.allowed_ips,
    )
