"""Credential services: store and test KSeF tokens, XAdES logins, seals, unattended tokens.

Secrets go into the vault the moment they arrive and never leave it through the API; only
fingerprints and metadata do. Deleting a credential revokes what KSeF lets us revoke.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import Bureau, ClientCompany
from integration.accounts.service import load_client
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Text,
    ValidationFailed,
)
from integration.credentials import vault
from integration.credentials.models import KsefCredential, SignatureRequest
from integration.ksef.auth import (
    Authenticated,
    AuthenticationFailed,
    authenticate_with_token,
    wait_and_redeem,
)
from integration.ksef.errors import (
    KsefError,
    KsefRateLimited,
    KsefRejected,
    KsefUnauthorized,
    KsefUnavailable,
)
from integration.ksef.runtime import current_client
from integration.xml import xades

log = logging.getLogger(__name__)
TOKEN_RIGHTS = ("InvoiceRead", "InvoiceWrite")
REFRESH_MARGIN = dt.timedelta(minutes=2)


class KsefRefused(DomainError):
    """KSeF said no; the detail tells the person what to do about it."""

    status, slug, title = 422, "ksef-refused", "KSeF refused the credentials"


def _refused(exc: KsefError) -> KsefRefused:
    code = getattr(exc, "code", None)
    return KsefRefused(str(exc), ksef_status=exc.status, ksef_code=code)


def _client_for_write(s: Session, actor: Actor, client_id: int) -> ClientCompany:
    client = load_client(s, actor, client_id)
    if not (actor.works_for_bureau(client.bureau_id) or actor.administers_client(client)):
        raise Forbidden("only the bureau or the client's admin manages KSeF credentials")
    guards.check_client_writable(s, client)
    return client


def _audit(
    s: Session,
    actor: Actor | None,
    client: ClientCompany,
    action: str,
    detail: str,
    *,
    outcome: str = "ok",
    object_id: object = "",
) -> None:
    audit.for_client(
        s,
        actor,
        action,
        client,
        object_type="credential",
        object_id=object_id,
        outcome=outcome,
        detail=detail,
    )


def _replace(s: Session, row: KsefCredential) -> None:
    """Keep one credential of a kind per client (or per bureau for seals)."""
    where = (
        KsefCredential.client_id == row.client_id
        if row.client_id is not None
        else KsefCredential.bureau_id == row.bureau_id
    )
    for old in s.scalars(select(KsefCredential).where(where, KsefCredential.kind == row.kind)):
        s.delete(old)
    s.flush()
    s.add(row)


def _session_row(client: ClientCompany, auth: Authenticated, actor: Actor) -> KsefCredential:
    pair = f"{auth.tokens.access.token}\n{auth.tokens.refresh.token}".encode()
    return KsefCredential(
        kind="session",
        client_id=client.id,
        context_nip=client.nip,
        ciphertext=vault.seal(pair),
        fingerprint=vault.fingerprint(pair),
        ksef_reference=auth.reference_number,
        expires_at=auth.tokens.access.valid_until,
        refresh_expires_at=auth.tokens.refresh.valid_until,
        created_by_user_id=actor.user_id,
        label="KSeF session",
    )


# ---------------------------------------------------------------------------- KSeF token
def store_ksef_token(
    actor: Actor, client_id: int, token: str, *, label: str = ""
) -> KsefCredential:
    """Keep a KSeF token for the client's context after proving that it works."""
    token = token.strip()
    if not token or len(token) > 400 or "|" not in token:
        raise ValidationFailed.single("token", "paste the whole KSeF token as KSeF showed it")
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        nip = client.nip
    try:
        auth = authenticate_with_token(current_client(), context_nip=nip, ksef_token=token)
    except AuthenticationFailed as exc:
        raise KsefRefused(str(exc), ksef_status=exc.status_code) from None
    except KsefError as exc:
        raise _refused(exc) from None
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        row = KsefCredential(
            kind="ksef_token",
            client_id=client.id,
            context_nip=client.nip,
            ciphertext=vault.seal(token.encode()),
            fingerprint=vault.fingerprint(token.encode()),
            ksef_reference=token.split("|", 1)[0][:36],
            created_by_user_id=actor.user_id,
            label=label or "KSeF token",
            last_used_at=now(),
        )
        _replace(s, row)
        _replace(s, _session_row(client, auth, actor))
        s.flush()
        _audit(
            s,
            actor,
            client,
            "credential.token_stored",
            f"fingerprint {row.fingerprint}",
            object_id=row.id,
        )
    return row


# ---------------------------------------------------------------------------- XAdES
@dataclass(frozen=True)
class PreparedRequest:
    request_id: int
    document: bytes
    expires_at: dt.datetime


def prepare_signature(
    actor: Actor, client_id: int, subject_identifier_type: str = "certificateSubject"
) -> PreparedRequest:
    """An unsigned AuthTokenRequest for the person to sign with their own tool."""
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        nip = client.nip
    try:
        challenge = current_client().challenge()
    except KsefError as exc:
        raise _refused(exc) from None
    document = xades.auth_token_request(challenge.challenge, nip, subject_identifier_type)
    with transaction() as s:
        row = SignatureRequest(
            client_id=client_id,
            challenge=challenge.challenge,
            issued_at=challenge.timestamp,
            subject_identifier_type=subject_identifier_type,
            created_by_user_id=actor.user_id,
        )
        s.add(row)
        s.flush()
        return PreparedRequest(row.id, document, challenge.timestamp + xades.CHALLENGE_TTL)


def upload_signed(
    actor: Actor, client_id: int, request_id: int, signed: bytes, *, mint_token: Sequence[str] = ()
) -> KsefCredential | None:
    """Check the signed file, log in to KSeF with it, keep the session; optionally mint a
    KSeF token with just ``mint_token`` rights for unattended work."""
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        pending = s.get(SignatureRequest, request_id)
        if pending is None or pending.client_id != client_id:
            raise NotFound("no such signature request; prepare a new file")
        if pending.used_at is not None:
            raise Conflict("this file was already used; prepare a new one")
        xades.check_signed_request(
            signed,
            challenge=pending.challenge,
            context_nip=client.nip,
            issued_at=pending.issued_at,
            now=now(),
        )
        pending.used_at = now()
    return _login_with_signed(actor, client_id, lambda: signed, mint_token)


def _login_with_signed(
    actor: Actor,
    client_id: int,
    signed: Callable[[], bytes],
    mint_token: Sequence[str],
    login_action: str = "credential.signed_login",
) -> KsefCredential | None:
    """Send a signed AuthTokenRequest, keep the session; mint a token when asked."""
    ksef = current_client()
    try:
        auth = wait_and_redeem(ksef, ksef.auth_xades(signed()))
    except AuthenticationFailed as exc:
        raise KsefRefused(str(exc), ksef_status=exc.status_code) from None
    except KsefError as exc:
        raise _refused(exc) from None
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        _replace(s, _session_row(client, auth, actor))
        _audit(s, actor, client, login_action, f"signed in to KSeF in the context of {client.nip}")
    if mint_token:
        return mint_ksef_token(
            actor, client_id, list(mint_token), access_token=auth.tokens.access.token
        )
    return None


def mint_ksef_token(
    actor: Actor,
    client_id: int,
    rights: list[str],
    *,
    access_token: str,
    timeout: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
) -> KsefCredential:
    """Generate a KSeF token in the client's context, wait until Active, keep it."""
    if not rights or any(r not in TOKEN_RIGHTS for r in rights):
        raise ValidationFailed.single("rights", "InvoiceRead and/or InvoiceWrite")
    ksef = current_client()
    try:
        reference, secret = ksef.create_token(
            access_token=access_token, permissions=rights, description="Delegat unattended access"
        )
        deadline = time.monotonic() + timeout
        while (
            status := ksef.token_status(reference, access_token=access_token)
        ).status == "Pending":
            if time.monotonic() > deadline:
                break
            sleep(0.5)
    except KsefRejected as exc:
        raise _refused(exc) from None
    if status.status not in ("Active", "Pending"):
        raise KsefRefused(
            Text("KSeF did not activate the token (status %(status)s)", status=status.status)
        )
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        row = KsefCredential(
            kind="ksef_token",
            client_id=client.id,
            context_nip=client.nip,
            ciphertext=vault.seal(secret.encode()),
            fingerprint=vault.fingerprint(secret.encode()),
            rights=" ".join(sorted(rights)),
            ksef_reference=reference,
            status="active" if status.status == "Active" else "pending",
            created_by_user_id=actor.user_id,
            label="minted after signature",
        )
        _replace(s, row)
        s.flush()
        _audit(
            s, actor, client, "credential.token_minted", " ".join(sorted(rights)), object_id=row.id
        )
    return row


# ---------------------------------------------------------------------------- seals
def upload_seal(
    actor: Actor, bureau_id: int, data: bytes, *, password: str | None, fmt: str
) -> KsefCredential:
    """The bureau's company seal (PKCS#12 or PEM), kept for server-side signing."""
    if fmt not in ("pkcs12", "pem"):
        raise ValidationFailed.single("format", "pkcs12 or pem")
    if not actor.administers_bureau(bureau_id):
        raise (
            NotFound("no such bureau")
            if not actor.sees_bureau(bureau_id)
            else Forbidden("only a bureau admin uploads the bureau's seal")
        )
    seal = xades.load_seal(data, password, fmt)
    material = seal.private_key_pem + b"\n" + seal.certificate_pem
    with transaction() as s:
        bureau = s.get(Bureau, bureau_id)
        if bureau is None:
            raise NotFound("no such bureau")
        problem = xades.seal_problem(seal, bureau.nip)
        if problem:
            raise ValidationFailed.single("file", problem)
        cert = seal.certificate
        row = KsefCredential(
            kind="seal",
            bureau_id=bureau_id,
            ciphertext=vault.seal(material),
            fingerprint=cert.fingerprint(hashes.SHA256()).hex()[:16],
            label=cert.subject.rfc4514_string()[:200],
            expires_at=cert.not_valid_after_utc,
            created_by_user_id=actor.user_id,
        )
        _replace(s, row)
        s.flush()
        audit.record(
            s,
            actor,
            "seal.uploaded",
            bureau_id=bureau_id,
            object_type="credential",
            object_id=row.id,
            detail=row.label,
        )
    return row


def login_with_seal(
    actor: Actor, client_id: int, *, mint_token: Sequence[str] = ()
) -> KsefCredential | None:
    """Sign server-side with the bureau's seal and log in to the client's context."""
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        stored = s.scalar(
            select(KsefCredential).where(
                KsefCredential.bureau_id == client.bureau_id, KsefCredential.kind == "seal"
            )
        )
        if stored is None:
            raise Conflict("the bureau has no seal; upload it first")
        seal, nip = _seal_of(stored), client.nip

    def signed() -> bytes:
        challenge = current_client().challenge()
        return xades.sign_with_seal(xades.auth_token_request(challenge.challenge, nip), seal)

    return _login_with_signed(actor, client_id, signed, mint_token, "credential.seal_login")


def _seal_of(stored: KsefCredential) -> xades.Seal:
    material = vault.unseal(stored.ciphertext)
    key_pem, _, cert_pem = material.partition(b"\n-----BEGIN CERTIFICATE")
    return xades.Seal(key_pem, b"-----BEGIN CERTIFICATE" + cert_pem)


def bureau_access_token(bureau_id: int) -> str:
    """An access token in the bureau's own KSeF context, signed in with the bureau's seal.

    The bureau acts in its own context when it passes rights on to its people (indirect
    grants); the session is kept encrypted and reused until shortly before it expires.
    """
    at = now()
    with transaction() as s:
        bureau = s.get(Bureau, bureau_id)
        if bureau is None:
            raise NotFound("no such bureau")
        rows = {
            row.kind: row
            for row in s.scalars(
                select(KsefCredential).where(
                    KsefCredential.bureau_id == bureau_id,
                    KsefCredential.kind.in_(("seal", "bureau_session")),
                )
            )
        }
        session = rows.get("bureau_session")
        if session is not None and session.expires_at and session.expires_at - REFRESH_MARGIN > at:
            return vault.unseal(session.ciphertext).decode().partition("\n")[0]
        stored = rows.get("seal")
        if stored is None:
            raise Conflict(
                "the bureau has no seal: upload it so that Delegat can act in the bureau's "
                "own KSeF context"
            )
        seal, nip = _seal_of(stored), bureau.nip
    ksef = current_client()
    challenge = ksef.challenge()
    signed = xades.sign_with_seal(xades.auth_token_request(challenge.challenge, nip), seal)
    try:
        auth = wait_and_redeem(ksef, ksef.auth_xades(signed))
    except AuthenticationFailed as exc:
        raise KsefRefused(
            Text("KSeF refused the bureau's seal: %(reason)s", reason=str(exc))
        ) from None
    pair = f"{auth.tokens.access.token}\n{auth.tokens.refresh.token}".encode()
    with transaction() as s:
        s.execute(
            delete(KsefCredential).where(
                KsefCredential.bureau_id == bureau_id, KsefCredential.kind == "bureau_session"
            )
        )
        s.add(
            KsefCredential(
                kind="bureau_session",
                bureau_id=bureau_id,
                context_nip=nip,
                ciphertext=vault.seal(pair),
                fingerprint=vault.fingerprint(pair),
                ksef_reference=auth.reference_number,
                expires_at=auth.tokens.access.valid_until,
                refresh_expires_at=auth.tokens.refresh.valid_until,
                label="KSeF session of the bureau",
            )
        )
    return auth.tokens.access.token


# ---------------------------------------------------------------------------- use
def access_token_for(client_id: int, *, settling: bool = False) -> str:
    """A working access token for the client's context (jobs): refresh before expiry,
    re-authenticate with the stored KSeF token when the refresh token has died.

    A read-only client gets none (ClientReadOnly): no KSeF operation is made, nor paid for,
    in its name. ``settling`` asks only to read the outcome of what KSeF already took from
    it before it turned read-only (statuses, KSeF numbers, UPOs).
    No transaction is held while KSeF is called.
    """
    at = now()
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        if client is None:
            raise NotFound("no such client company")
        if not settling:
            guards.check_client_writable(s, client)
        nip = client.nip
        session = s.scalar(
            select(KsefCredential).where(
                KsefCredential.client_id == client_id, KsefCredential.kind == "session"
            )
        )
        token_row = s.scalar(
            select(KsefCredential).where(
                KsefCredential.client_id == client_id, KsefCredential.kind == "ksef_token"
            )
        )
        pair = vault.unseal(session.ciphertext).decode() if session is not None else ""
        expires = session.expires_at if session is not None else None
        refresh_until = session.refresh_expires_at if session is not None else None
        secret = vault.unseal(token_row.ciphertext).decode() if token_row is not None else None
    access, _, refresh = pair.partition("\n")
    if expires is not None and expires - REFRESH_MARGIN > at:
        return access
    if refresh_until is not None and refresh_until > at:
        try:
            fresh = current_client().refresh(refresh_token=refresh)
        except (KsefUnauthorized, KsefRejected):
            log.info("the refresh token of client %s no longer works", client_id)
        else:
            with transaction() as s:
                row = s.scalar(
                    select(KsefCredential).where(
                        KsefCredential.client_id == client_id, KsefCredential.kind == "session"
                    )
                )
                if row is not None:
                    sealed = f"{fresh.token}\n{refresh}".encode()
                    row.ciphertext, row.expires_at = vault.seal(sealed), fresh.valid_until
            return fresh.token
    if secret is None:
        raise Conflict(
            "no working KSeF credentials for this client; store a KSeF token or "
            "sign in with a qualified signature"
        )
    try:
        auth = authenticate_with_token(current_client(), context_nip=nip, ksef_token=secret)
    except (KsefUnavailable, KsefRateLimited):
        raise  # KSeF is busy or away: the token may well be fine, try again later
    except (AuthenticationFailed, KsefError) as exc:
        _mark_token(client_id, status="broken")
        raise KsefRefused(
            Text("the stored KSeF token no longer works: %(reason)s", reason=str(exc))
        ) from None
    with transaction() as s:
        client = s.get(ClientCompany, client_id)
        assert client is not None
        _replace(s, _session_row(client, auth, Actor()))
    _mark_token(client_id, status="active", used_at=at)
    return auth.tokens.access.token


def _mark_token(client_id: int, *, status: str, used_at: dt.datetime | None = None) -> None:
    with transaction() as s:
        row = s.scalar(
            select(KsefCredential).where(
                KsefCredential.client_id == client_id, KsefCredential.kind == "ksef_token"
            )
        )
        if row is not None:
            row.status = status
            row.last_used_at = used_at or row.last_used_at


@dataclass(frozen=True)
class CredentialCheck:
    """What asking KSeF just now showed about a client's credentials."""

    checked: str  # ksef_token (authenticated afresh) | session (an authenticated call)
    context_nip: str
    detail: str


def check_credentials(actor: Actor, client_id: int) -> CredentialCheck:
    """Ask KSeF now whether what is stored works (see :func:`_check`); the audit trail keeps
    each test and how it ended."""
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
    try:
        found = _check(actor, client_id)
    except (KsefRefused, Conflict) as exc:
        with transaction() as s:
            _audit(s, actor, client, "credential.tested", exc.detail, outcome="refused")
        raise
    with transaction() as s:
        _audit(s, actor, client, "credential.tested", found.detail)
    return found


def _check(actor: Actor, client_id: int) -> CredentialCheck:
    """Ask KSeF now whether what is stored works; never answer from what is cached.

    A stored KSeF token signs in afresh (and the new session is kept); with only a session
    from a signed login, an authenticated call shows whether KSeF still honours it. A
    revoked or expired credential is reported as such (KsefRefused) and marked.
    """
    with transaction() as s:
        client = _client_for_write(s, actor, client_id)
        nip = client.nip
        token_row = _credential(s, client_id, "ksef_token")
        secret = vault.unseal(token_row.ciphertext).decode() if token_row is not None else None
        has_session = _credential(s, client_id, "session") is not None
    ksef = current_client()
    if secret is not None:
        try:
            auth = authenticate_with_token(ksef, context_nip=nip, ksef_token=secret)
        except (KsefUnavailable, KsefRateLimited) as exc:
            raise _refused(exc) from None
        except (AuthenticationFailed, KsefError) as exc:
            _mark_token(client_id, status="broken")
            raise KsefRefused(
                f"KSeF refused the stored KSeF token (revoked, expired or without rights in "
                f"this context): {exc}; store a new token"
            ) from None
        with transaction() as s:
            company = s.get(ClientCompany, client_id)
            assert company is not None
            _replace(s, _session_row(company, auth, Actor()))
        _mark_token(client_id, status="active", used_at=now())
        return CredentialCheck("ksef_token", nip, "KSeF accepted the stored KSeF token just now")
    if not has_session:
        raise Conflict(
            "no KSeF credentials for this client; store a KSeF token or sign in with a "
            "qualified signature"
        )
    try:
        ksef.rate_limits(access_token=access_token_for(client_id))
    except (KsefUnauthorized, KsefRefused, Conflict) as exc:
        with transaction() as s:
            row = _credential(s, client_id, "session")
            if row is not None:
                row.status = "broken"
        raise KsefRefused(
            f"KSeF no longer honours the session of the signed login (revoked or expired): "
            f"{exc}; sign in again with the qualified signature"
        ) from None
    except KsefError as exc:
        raise _refused(exc) from None
    return CredentialCheck("session", nip, "KSeF answered an authenticated call just now")


def _credential(s: Session, client_id: int, kind: str) -> KsefCredential | None:
    return s.scalar(
        select(KsefCredential).where(
            KsefCredential.client_id == client_id, KsefCredential.kind == kind
        )
    )


def list_credentials(actor: Actor, client_id: int) -> list[KsefCredential]:
    with transaction() as s:
        client = load_client(s, actor, client_id)
        rows = list(
            s.scalars(
                select(KsefCredential)
                .where(
                    (KsefCredential.client_id == client_id)
                    | (
                        (KsefCredential.bureau_id == client.bureau_id)
                        & (KsefCredential.kind == "seal")
                    )
                )
                .order_by(KsefCredential.id)
            )
        )
        if not actor.works_for_bureau(client.bureau_id):
            rows = [r for r in rows if r.kind != "seal"]
        return rows


def delete_credential(actor: Actor, client_id: int, credential_id: int) -> None:
    """Delete, revoking in KSeF first what can be revoked (token, session)."""
    with transaction() as s:
        _client_for_write(s, actor, client_id)
        row = s.get(KsefCredential, credential_id)
        if row is None or row.client_id != client_id:
            raise NotFound("no such credential")
        kind, reference = row.kind, row.ksef_reference
        secret = vault.unseal(row.ciphertext).decode()
    try:
        if kind == "session":
            current_client().revoke_current_session(access_token=secret.partition("\n")[0])
        elif kind == "ksef_token" and reference:
            current_client().revoke_token(reference, access_token=access_token_for(client_id))
        revoked = "revoked in KSeF" if kind in ("session", "ksef_token") and reference else ""
    except (KsefError, DomainError) as exc:
        log.warning("could not revoke credential %s in KSeF: %s", credential_id, type(exc).__name__)
        revoked = f"not revoked in KSeF ({type(exc).__name__})"
    with transaction() as s:
        row = s.get(KsefCredential, credential_id)
        if row is not None:
            s.delete(row)
            client = s.get(ClientCompany, client_id)
            assert client is not None
            _audit(
                s,
                actor,
                client,
                "credential.deleted",
                f"{kind}; {revoked}".strip("; "),
                object_id=credential_id,
            )


def rotate_vault() -> int:
    """Re-encrypt every stored secret with the first configured key; returns how many."""
    with transaction() as s:
        rows = s.scalars(select(KsefCredential)).all()
        for row in rows:
            row.ciphertext = vault.rotate(row.ciphertext)
        return len(rows)


@dataclass(frozen=True)
class ContextOverview:
    client_id: int
    client_name: str
    context_nip: str
    working: bool
    rights: str
    token_status: str | None
    session_expires_at: dt.datetime | None


def bureau_overview(
    actor: Actor, bureau_id: int, client_ids: Sequence[int] | None = None
) -> list[ContextOverview]:
    """Which client contexts of the bureau (or of these of its clients) have working
    credentials, rights and expiry."""
    if not actor.works_for_bureau(bureau_id):
        raise NotFound("no such bureau")
    at = now()
    with transaction() as s:
        chosen = select(ClientCompany).where(ClientCompany.bureau_id == bureau_id)
        if client_ids is not None:
            chosen = chosen.where(ClientCompany.id.in_(list(client_ids)))
        clients = s.scalars(chosen.order_by(ClientCompany.name)).all()
        rows = s.scalars(
            select(KsefCredential).where(KsefCredential.client_id.in_([c.id for c in clients]))
        ).all()
    by_client: dict[int, dict[str, KsefCredential]] = {}
    for row in rows:
        assert row.client_id is not None
        by_client.setdefault(row.client_id, {})[row.kind] = row
    out = []
    for client in clients:
        creds = by_client.get(client.id, {})
        token, session = creds.get("ksef_token"), creds.get("session")
        live_session = session is not None and (session.refresh_expires_at or at) > at
        out.append(
            ContextOverview(
                client.id,
                client.name,
                client.nip,
                working=(token is not None and token.status == "active") or live_session,
                rights=token.rights if token is not None else "",
                token_status=token.status if token is not None else None,
                session_expires_at=session.refresh_expires_at if session is not None else None,
            )
        )
    return out
