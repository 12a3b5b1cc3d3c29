"""Authentication: challenge, KSeF token, XAdES, status, redeem, refresh, sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request

from integration.ksef_sandbox import crypto, xades
from integration.ksef_sandbox.common import body, continuation_offset, iso, need, page_size, store
from integration.ksef_sandbox.errors import KsefError, ProblemError, validation
from integration.ksef_sandbox.rights import Identity, effective_rights, token_rights
from integration.ksef_sandbox.security import (
    ACCESS_TOKEN_TTL,
    AUTH_TOKEN_TTL,
    REFRESH_TOKEN_TTL,
    decode,
    issue,
)
from integration.ksef_sandbox.state import AuthOperation, Challenge, KeyPair, KsefToken, Subject

bp = Blueprint("sandbox_auth", __name__)
CHALLENGE_TTL = dt.timedelta(minutes=10)
CONTEXT_TYPES = ("Nip", "InternalId", "NipVatUe", "PeppolId")
STATUS_TEXT = {
    100: "Uwierzytelnianie w toku",
    200: "Uwierzytelnianie zakończone sukcesem",
    415: "Uwierzytelnianie zakończone niepowodzeniem z powodu braku nadanych uprawnień",
    425: "Uwierzytelnienie unieważnione",
    450: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    460: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    470: "Uwierzytelnianie zakończone niepowodzeniem z powodu zgonu osoby",
    480: "Uwierzytelnienie zablokowane",
}
METHOD_INFO = {
    "Token": ("Token", "token", "Token KSeF"),
    "QualifiedSignature": ("XadesSignature", "qualifiedSignature", "Podpis kwalifikowany"),
    "QualifiedSeal": ("XadesSignature", "qualifiedSeal", "Pieczęć kwalifikowana"),
}


@bp.get("/security/public-key-certificates")
def public_keys() -> Any:
    with store().session() as s:
        keys = s.scalars(sa.select(KeyPair).order_by(KeyPair.id)).all()
        return [
            {
                "certificate": crypto.b64(k.cert_der),
                "certificateId": crypto.sha256_b64(k.cert_der),
                "publicKeyId": k.public_key_id,
                "validFrom": iso(k.valid_from),
                "validTo": iso(k.valid_to),
                "usage": [k.usage],
            }
            for k in keys
        ]


@bp.post("/auth/challenge")
def challenge() -> Any:
    st = store()
    now = st.now()
    value = crypto.reference_number("CR", now)
    with st.session() as s:
        s.add(Challenge(challenge=value, timestamp_ms=int(now.timestamp() * 1000), created_at=now))
    return {
        "challenge": value,
        "timestamp": iso(now),
        "timestampMs": int(now.timestamp() * 1000),
        "clientIp": request.remote_addr or "",
    }


def _consume_challenge(s: sa.orm.Session, value: str) -> Challenge | None:
    row = s.get(Challenge, value)
    if row is None or row.used_at is not None or row.created_at + CHALLENGE_TTL < store().now():
        return None
    row.used_at = store().now()
    return row


def _init_response(op: AuthOperation) -> tuple[dict[str, Any], int]:
    token, until = issue(store(), "OperationToken", op, AUTH_TOKEN_TTL)
    return {
        "referenceNumber": op.reference_number,
        "authenticationToken": {"token": token, "validUntil": iso(until)},
    }, 202


def _context(data: dict[str, Any]) -> tuple[str, str]:
    ctx = need(data, "contextIdentifier", dict)
    ctype, value = ctx.get("type"), ctx.get("value")
    if ctype not in CONTEXT_TYPES or not isinstance(value, str) or not value:
        raise validation("contextIdentifier must have a known type and a value.")
    if ctype == "Nip" and not crypto.valid_nip(value):
        raise validation("contextIdentifier.value is not a valid NIP.")
    return ctype, value


def _decide(s: sa.orm.Session, op: AuthOperation, who: Identity | None) -> None:
    """Finish an authentication: 200 when the subject holds a right in the context."""
    if op.context_type == "Nip":
        blocked = s.scalar(
            sa.select(Subject.id).where(Subject.nip == op.context_value, Subject.blocked.is_(True))
        )
        if blocked is not None:
            op.status_code = 480
            return
    if who is not None and who.type == "Pesel":
        deceased = s.scalar(
            sa.select(Subject.id).where(Subject.pesel == who.value, Subject.is_deceased.is_(True))
        )
        if deceased is not None:
            op.status_code = 470
            return
    if op.ksef_token_ref is not None:
        token = s.get(KsefToken, op.ksef_token_ref)
        ok = token is not None and bool(token_rights(s, token))
    else:
        ok = who is not None and bool(effective_rights(s, who, op.context_type, op.context_value))
    op.status_code = 200 if ok else 415


@bp.post("/auth/ksef-token")
def ksef_token_auth() -> Any:
    data = body()
    challenge_value = need(data, "challenge")
    ctype, cvalue = _context(data)
    encrypted = need(data, "encryptedToken")
    st = store()
    with st.session() as s:
        key_id = data.get("publicKeyId")
        key = s.scalar(
            sa.select(KeyPair).where(
                KeyPair.usage == "KsefTokenEncryption",
                *([KeyPair.public_key_id == key_id] if key_id else []),
            )
        )
        if key is None:
            raise KsefError(21470, "Nieznany lub wycofany identyfikator klucza publicznego.")
        now = st.now()
        op = AuthOperation(
            reference_number=crypto.reference_number("AU", now),
            context_type=ctype,
            context_value=cvalue,
            method="Token",
            category="Token",
            started_at=now,
            allowed_ips=data.get("authorizationPolicy"),
        )
        s.add(op)
        chal = _consume_challenge(s, challenge_value)
        token_row = None
        try:
            plain = crypto.rsa_oaep_decrypt(key.private_pem, crypto.unb64(encrypted)).decode()
            secret, _, stamp = plain.rpartition("|")
        except (ValueError, UnicodeDecodeError):
            secret, stamp = "", ""
        if chal is not None and stamp == str(chal.timestamp_ms):
            token_row = s.scalar(
                sa.select(KsefToken).where(KsefToken.secret_hash == crypto.secret_hash(secret))
            )
        valid = (
            token_row is not None
            and token_row.revoked_at is None
            and token_row.active_from <= now
            and token_row.context_type == ctype
            and token_row.context_value == cvalue
        )
        if not valid or token_row is None:
            op.status_code = 450
            op.status_details = ["Nieprawidłowe wyzwanie, token, czas tokena lub token nieaktywny."]
        else:
            op.ksef_token_ref = token_row.reference_number
            op.subject_type, op.subject_value = token_row.author_type, token_row.author_value
            token_row.last_use_at = now
            _decide(s, op, Identity(token_row.author_type, token_row.author_value))
        return _init_response(op)


@bp.post("/auth/xades-signature")
def xades_auth() -> Any:
    raw = request.get_data(cache=False)
    signed = xades.verify(raw)
    st = store()
    with st.session() as s:
        if _consume_challenge(s, signed.challenge) is None:
            raise KsefError(21111, "Nieprawidłowe wyzwanie autoryzacyjne.")
        who = xades.identity(signed)
        if signed.context_type == "NipVatUe" and who.type != "Fingerprint":
            # EU-entity contexts are entered by certificate fingerprint only
            raise KsefError(
                21117, "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu."
            )
        now = st.now()
        op = AuthOperation(
            reference_number=crypto.reference_number("AU", now),
            context_type=signed.context_type,
            context_value=signed.context_value,
            subject_type=who.type,
            subject_value=who.value,
            subject_name=who.name,
            method=who.method,
            category="XadesSignature",
            document_hash=signed.document_hash,
            allowed_ips={"allowedIps": signed.allowed_ips} if signed.allowed_ips else None,
            started_at=now,
        )
        s.add(op)
        if request.args.get("verifyCertificateChain", "").lower() == "true":
            op.status_code = 460
            op.status_details = ["Niezaufany łańcuch certyfikatów."]
        else:
            _decide(s, op, Identity(who.type, who.value))
        return _init_response(op)


def _operation_status(op: AuthOperation) -> dict[str, Any]:
    category, code, display = METHOD_INFO.get(op.method, ("Other", "other", op.method))
    out: dict[str, Any] = {
        "startDate": iso(op.started_at),
        "authenticationMethod": op.method,
        "authenticationMethodInfo": {"category": category, "code": code, "displayName": display},
        "status": {
            "code": op.status_code,
            "description": STATUS_TEXT.get(op.status_code, "Nieznany status"),
            **({"details": op.status_details} if op.status_details else {}),
        },
    }
    if op.redeemed_at is not None:
        out["isTokenRedeemed"] = True
    if op.last_refresh_at is not None:
        out["lastTokenRefreshDate"] = iso(op.last_refresh_at)
    if op.refresh_valid_until is not None:
        out["refreshTokenValidUntil"] = iso(op.refresh_valid_until)
    return out


@bp.get("/auth/<reference_number>")
def auth_status(reference_number: str) -> Any:
    claims = decode("OperationToken")
    with store().session() as s:
        op = s.get(AuthOperation, reference_number)
        if op is None or claims["operation-reference-number"] != reference_number:
            raise KsefError(
                21304,
                "Brak uwierzytelnienia.",
                [f"Operacja uwierzytelniania {reference_number} nie została znaleziona."],
            )
        if op.started_at + dt.timedelta(days=7) < store().now():
            raise ProblemError(410, "Status uwierzytelnienia nie jest już dostępny.")
        return _operation_status(op)


def _access_permissions(s: sa.orm.Session, op: AuthOperation) -> list[str]:
    if op.ksef_token_ref is not None:
        token = s.get(KsefToken, op.ksef_token_ref)
        return sorted(token_rights(s, token)) if token is not None else []
    if op.subject_type is None or op.subject_value is None:
        return []
    return sorted(
        effective_rights(
            s, Identity(op.subject_type, op.subject_value), op.context_type, op.context_value
        )
    )


@bp.post("/auth/token/redeem")
def redeem() -> Any:
    claims = decode("OperationToken")
    st = store()
    with st.session() as s:
        op = s.get(AuthOperation, claims["operation-reference-number"])
        if op is None:
            raise KsefError(21304, "Brak uwierzytelnienia.")
        if op.redeemed_at is not None or op.status_code != 200 or op.revoked_at is not None:
            raise KsefError(
                21301,
                "Brak autoryzacji.",
                [
                    "Tokeny zostały już pobrane."
                    if op.redeemed_at
                    else f"Status uwierzytelniania {op.status_code} nie pozwala pobrać tokenów."
                ],
            )
        op.redeemed_at = st.now()
        access, access_until = issue(
            st, "ContextToken", op, ACCESS_TOKEN_TTL, permissions=_access_permissions(s, op)
        )
        refresh, refresh_until = issue(st, "RefreshToken", op, REFRESH_TOKEN_TTL)
        op.refresh_valid_until = refresh_until
        return {
            "accessToken": {"token": access, "validUntil": iso(access_until)},
            "refreshToken": {"token": refresh, "validUntil": iso(refresh_until)},
        }


@bp.post("/auth/token/refresh")
def refresh() -> Any:
    claims = decode("RefreshToken")
    st = store()
    with st.session() as s:
        op = s.get(AuthOperation, claims["operation-reference-number"])
        if op is None:
            raise KsefError(21304, "Brak uwierzytelnienia.")
        token = s.get(KsefToken, op.ksef_token_ref) if op.ksef_token_ref else None
        if op.revoked_at is not None or (token is not None and token.revoked_at is not None):
            raise KsefError(21301, "Brak autoryzacji.", ["Sesja uwierzytelniania unieważniona."])
        op.last_refresh_at = st.now()
        access, until = issue(
            st, "ContextToken", op, ACCESS_TOKEN_TTL, permissions=_access_permissions(s, op)
        )
        return {"accessToken": {"token": access, "validUntil": iso(until)}}


@bp.get("/auth/sessions")
def auth_sessions() -> Any:
    claims = decode("ContextToken")
    size, offset = page_size(10, 10, 100), continuation_offset()
    with store().session() as s:
        current = s.get(AuthOperation, claims["operation-reference-number"])
        assert current is not None
        rows = s.scalars(
            sa.select(AuthOperation)
            .where(
                AuthOperation.context_type == current.context_type,
                AuthOperation.context_value == current.context_value,
                AuthOperation.subject_value == current.subject_value,
                AuthOperation.redeemed_at.is_not(None),
                AuthOperation.revoked_at.is_(None),
            )
            .order_by(AuthOperation.started_at.desc())
            .offset(offset)
            .limit(size + 1)
        ).all()
        items = [
            {
                "referenceNumber": op.reference_number,
                "isCurrent": op.reference_number == current.reference_number,
                **_operation_status(op),
            }
            for op in rows[:size]
        ]
        out: dict[str, Any] = {"items": items}
        if len(rows) > size:
            out["continuationToken"] = str(offset + size)
        return out


def _revoke(reference_number: str) -> Response:
    with store().session() as s:
        op = s.get(AuthOperation, reference_number)
        if op is None:
            raise KsefError(21304, "Brak uwierzytelnienia.")
        op.revoked_at = store().now()
        op.status_code = 425 if op.status_code == 200 else op.status_code
    return Response(status=204)


@bp.delete("/auth/sessions/current")
def revoke_current() -> Response:
    claims = decode(("ContextToken", "RefreshToken"))
    return _revoke(claims["operation-reference-number"])


@bp.delete("/auth/sessions/<reference_number>")
def revoke_session(reference_number: str) -> Response:
    claims = decode("ContextToken")
    with store().session() as s:
        mine = s.get(AuthOperation, claims["operation-reference-number"])
        other = s.get(AuthOperation, reference_number)
        if (
            other is None
            or mine is None
            or other.context_value != mine.context_value
            or other.subject_value != mine.subject_value
        ):
            raise KsefError(21304, "Brak uwierzytelnienia.")
    return _revoke(reference_number)
