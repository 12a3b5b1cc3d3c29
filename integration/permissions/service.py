"""Grants of a client company, kept in step with KSeF.

A client's admin (or the bureau's admin) grants the right to read or write the client's
invoices to a person by PESEL (an accountant) or to an entity by NIP (the bureau, which may
be allowed to pass it on). The grant is recorded here first and carried to KSeF by a job,
which follows KSeF's operation to its end and keeps the permission ids KSeF assigned, so that
a revocation removes exactly those. Pulling reads what KSeF holds in the client's context:
grants made elsewhere appear here, grants revoked elsewhere are marked revoked.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integration.accounts import guards
from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany
from integration.accounts.service import load_client
from integration.audit import service as audit
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict, Forbidden, NotFound, Text, ValidationFailed
from integration.core.identifiers import InvalidIdentifier, normalize_nip, normalize_pesel
from integration.credentials.models import KsefCredential
from integration.credentials.service import (
    KsefRefused,
    access_token_for,
    bureau_access_token,
)
from integration.jobs import enqueue_after_commit, job_id
from integration.ksef.client import Permission, PermissionsApi
from integration.ksef.errors import (
    KsefError,
    KsefForbidden,
    KsefRateLimited,
    KsefRejected,
    KsefUnavailable,
)
from integration.ksef.runtime import current_client
from integration.permissions.models import Grant, GrantPull, GrantState

log = logging.getLogger(__name__)
RIGHTS = ("InvoiceRead", "InvoiceWrite")
_LIVE = (GrantState.PENDING, GrantState.ACTIVE, GrantState.REVOKING)
MAX_WAIT = 300
NEEDS_MANAGE = (
    "KSeF refused: the credentials stored for this client may not manage permissions "
    "(CredentialsManage); sign in with the owner's qualified signature and try again"
)


def _for_admin(s: Session, actor: Actor, client_id: int) -> ClientCompany:
    client = load_client(s, actor, client_id)
    if not actor.administers_client(client):
        raise Forbidden("only the client's admin or the bureau's admin changes grants")
    guards.check_client_writable(s, client)
    return client


def _enqueue(s: Session, func: str, *parts: object, delay: float = 0, **kwargs: object) -> None:
    enqueue_after_commit(
        s,
        f"integration.permissions.jobs.{func}",
        job_id=job_id(func.replace("_", "-"), *parts),
        queue="ksef",
        delay=timedelta(seconds=delay) if delay else None,
        **kwargs,
    )


def list_grants(actor: Actor, client_id: int) -> list[Grant]:
    with transaction() as s:
        load_client(s, actor, client_id)
        return list(
            s.scalars(select(Grant).where(Grant.client_id == client_id).order_by(Grant.id.desc()))
        )


def _rights(rights: list[str]) -> str:
    if not rights or any(r not in RIGHTS for r in rights):
        raise ValidationFailed.single(
            "rights", Text("one or both of %(rights)s", rights=", ".join(RIGHTS))
        )
    return " ".join(sorted(set(rights)))


def _grantee(kind: str, identifier: str, name: str) -> tuple[str, str, str]:
    """(type, normalized identifier, display name) or a field error."""
    try:
        if kind == "person":
            value, kind_name = normalize_pesel(identifier), "Pesel"
        elif kind == "entity":
            value, kind_name = normalize_nip(identifier), "Nip"
        else:
            raise ValidationFailed.single("kind", "person (by PESEL) or entity (by NIP)")
    except InvalidIdentifier as exc:
        raise ValidationFailed.single("identifier", str(exc)) from None
    name = " ".join(name.split())
    if kind == "person" and (len(name.split(" ")) < 2 or len(name) > 110):
        raise ValidationFailed.single("name", "the person's first and last name")
    if kind == "entity" and not 5 <= len(name) <= 90:
        raise ValidationFailed.single("name", "the entity's full name, 5 to 90 characters")
    return kind_name, value, name


def _record(
    s: Session,
    actor: Actor,
    client_id: int,
    *,
    kind: str,
    grantee: tuple[str, str, str],
    rights: str,
    can_delegate: bool = False,
) -> Grant:
    """A pending grant, unless the grantee already holds a live one of this kind."""
    grantee_type, value, display = grantee
    direct = Grant.kind != "indirect"
    existing = s.scalar(
        select(Grant).where(
            Grant.client_id == client_id,
            Grant.grantee_value == value,
            Grant.state.in_(_LIVE),
            Grant.kind == "indirect" if kind == "indirect" else direct,
        )
    )
    if existing is not None:
        raise Conflict(
            f"{display} already has a grant here ({existing.state.value}); revoke it first",
            grant_id=existing.id,
        )
    stamp = now()
    row = Grant(
        client_id=client_id,
        kind=kind,
        grantee_type=grantee_type,
        grantee_value=value,
        grantee_name=display,
        rights=rights,
        can_delegate=can_delegate,
        state=GrantState.PENDING,
        created_by_user_id=actor.user_id,
        created_at=stamp,
        updated_at=stamp,
    )
    s.add(row)
    s.flush()
    _audit(s, actor, row, "grant.requested", f"{display}: {rights}")
    _enqueue(s, "apply_grant", row.id, 0, grant_id=row.id)
    return row


def _audit(s: Session, actor: Actor | None, row: Grant, action: str, detail: str) -> None:
    client = s.get(ClientCompany, row.client_id)
    assert client is not None  # a grant goes with its client
    audit.for_client(
        s,
        actor,
        action,
        client,
        object_type="grant",
        object_id=row.id,
        outcome="failed" if action == "grant.failed" else "ok",
        detail=detail,
    )


def grant(
    actor: Actor,
    client_id: int,
    *,
    kind: str,
    identifier: str,
    name: str,
    rights: list[str],
    can_delegate: bool = False,
) -> Grant:
    grantee = _grantee(kind, identifier, name)
    joined = _rights(rights)
    if can_delegate and kind != "entity":
        raise ValidationFailed.single("can_delegate", "only an entity may pass rights on")
    with transaction() as s:
        client = _for_admin(s, actor, client_id)
        if grantee[0] == "Nip" and grantee[1] == client.nip:
            raise ValidationFailed.single("identifier", "the client holds its own rights")
        return _record(
            s,
            actor,
            client_id,
            kind=kind,
            grantee=grantee,
            rights=joined,
            can_delegate=can_delegate,
        )


def grant_indirect(
    actor: Actor, bureau_id: int, *, client_id: int, identifier: str, name: str, rights: list[str]
) -> Grant:
    """The bureau passes rights a client gave it on to one of its people (by PESEL).

    Done in the bureau's own KSeF context (signed in with the bureau's seal); KSeF accepts it
    only for rights the client let the bureau pass on.
    """
    grantee = _grantee("person", identifier, name)
    joined = _rights(rights)
    with transaction() as s:
        client = load_client(s, actor, client_id)
        if client.bureau_id != bureau_id:
            raise NotFound("no such client of this bureau")
        if not actor.administers_bureau(bureau_id):
            raise Forbidden("only the bureau's admin passes rights on to its people")
        guards.check_client_writable(s, client)
        return _record(s, actor, client_id, kind="indirect", grantee=grantee, rights=joined)


def revoke(actor: Actor, client_id: int, grant_id: int) -> Grant:
    with transaction() as s:
        _for_admin(s, actor, client_id)
        row = s.get(Grant, grant_id)
        if row is None or row.client_id != client_id:
            raise NotFound("no such grant")
        if row.state in (GrantState.REVOKED, GrantState.REVOKING):
            return row
        if row.state == GrantState.FAILED or not row.ksef_ids:
            if row.state == GrantState.PENDING and row.operation_reference:
                raise Conflict("KSeF is still processing this grant; revoke it in a moment")
            row.state, row.updated_at = GrantState.REVOKED, now()
            _audit(s, actor, row, "grant.revoked", f"{row.grantee_name or row.grantee_value}")
            return row
        row.state, row.updated_at = GrantState.REVOKING, now()
        _audit(s, actor, row, "grant.revoke_requested", row.grantee_name or row.grantee_value)
        _enqueue(s, "apply_grant", row.id, "revoke", grant_id=row.id)
    return row


def request_pull(actor: Actor, client_id: int) -> None:
    with transaction() as s:
        client = load_client(s, actor, client_id)
        audit.for_client(
            s,
            actor,
            "grants.read_requested",
            client,
        )
        _enqueue(s, "pull_grants", client_id, "asked", client_id=client_id, asked=True)


# ---------------------------------------------------------------------------- jobs
# What KSeF's verdict on a grant is called in the audit trail.
_VERDICTS = {
    GrantState.ACTIVE: "grant.applied",
    GrantState.FAILED: "grant.failed",
    GrantState.REVOKED: "grant.revoked",
}


def _set(grant_id: int, expected: GrantState, **values: object) -> None:
    """Move a grant on from ``expected``; KSeF's verdict goes into the audit trail with it."""
    with transaction() as s:
        moved = s.execute(
            update(Grant)
            .where(Grant.id == grant_id, Grant.state == expected)
            .values(updated_at=now(), **values)
        ).rowcount  # type: ignore[attr-defined]
        state = values.get("state")
        verdict = _VERDICTS.get(state) if isinstance(state, GrantState) else None
        row = s.get(Grant, grant_id) if moved and verdict else None
        if row is not None and verdict is not None:
            _audit(s, None, row, verdict, str(values.get("error") or row.grantee_name))


def _again(grant_id: int, attempt: int, delay: float) -> str:
    with transaction() as s:
        _enqueue(
            s,
            "apply_grant",
            grant_id,
            attempt + 1,
            delay=max(delay, 1.0),
            grant_id=grant_id,
            attempt=attempt + 1,
        )
    return "rescheduled"


def apply_grant(grant_id: int, attempt: int = 0) -> str:  # noqa: PLR0911 - one outcome per KSeF answer
    """Carry a pending grant or a revocation to KSeF and follow it to its end."""
    with transaction() as s:
        row = s.get(Grant, grant_id)
        if row is None or row.state not in (GrantState.PENDING, GrantState.REVOKING):
            return "nothing to do"
        state, client_id, indirect = row.state, row.client_id, row.kind == "indirect"
        client = s.get(ClientCompany, client_id)
        assert client is not None
        bureau_id = client.bureau_id
    try:
        access = bureau_access_token(bureau_id) if indirect else access_token_for(client_id)
    except (Conflict, KsefRefused) as exc:
        _set(grant_id, state, state=GrantState.FAILED, error=str(exc)[:1000])
        return "failed"
    except KsefError:
        return _again(grant_id, attempt, min(2**attempt, MAX_WAIT))
    try:
        if state == GrantState.REVOKING:
            return _revoke(grant_id, access)
        return _grant(grant_id, access, attempt)
    except (KsefUnavailable, KsefRateLimited) as exc:
        wait = exc.retry_after if isinstance(exc, KsefRateLimited) else 2**attempt
        return _again(grant_id, attempt, min(wait, MAX_WAIT))
    except KsefForbidden:
        _set(grant_id, state, state=GrantState.FAILED, error=NEEDS_MANAGE)
        return "failed"
    except KsefRejected as exc:
        _set(grant_id, state, state=GrantState.FAILED, error=f"KSeF refused: {exc}"[:1000])
        return "failed"


def _grant(grant_id: int, access: str, attempt: int) -> str:
    api = current_client().permissions
    with transaction() as s:
        row = s.get(Grant, grant_id)
        assert row is not None
        reference, client_id = row.operation_reference, row.client_id
        kind, value, name, rights = row.kind, row.grantee_value, row.grantee_name, row.right_list
        can_delegate = row.can_delegate
        client = s.get(ClientCompany, client_id)
        assert client is not None
        description, client_nip = f"Delegat: {client.name}"[:256], client.nip
    if reference is None:
        if kind == "indirect":
            first, _, last = name.partition(" ")
            reference = api.grant_indirect(
                access_token=access,
                pesel=value,
                permissions=rights,
                first_name=first[:30],
                last_name=last[:81],
                target_nip=client_nip,
                description=description,
            )
        elif kind == "person":
            first, _, last = name.partition(" ")
            reference = api.grant_person(
                access_token=access,
                identifier_type="Pesel",
                identifier=value,
                permissions=rights,
                first_name=first[:30],
                last_name=last[:81],
                description=description,
            )
        else:
            reference = api.grant_entity(
                access_token=access,
                nip=value,
                permissions=rights,
                can_delegate=can_delegate,
                full_name=name,
                description=description,
            )
        _set(grant_id, GrantState.PENDING, operation_reference=reference)
    code, text = api.operation_status(reference, access_token=access)
    if code < 200:
        return _again(grant_id, attempt, min(2**attempt, MAX_WAIT))
    if code != 200:
        _set(grant_id, GrantState.PENDING, state=GrantState.FAILED, error=f"KSeF: {text}"[:1000])
        return "failed"
    ids = [
        p.permission_id
        for p in _held(api, access, indirect=kind == "indirect")
        if p.active
        and p.grantee_value == value
        and p.scope in rights
        and (kind != "indirect" or p.target_value == client_nip)
    ]
    _set(grant_id, GrantState.PENDING, state=GrantState.ACTIVE, ksef_ids=" ".join(ids), error="")
    return "active"


def _held(api: PermissionsApi, access: str, *, indirect: bool) -> list[Permission]:
    query = "PermissionsGrantedInCurrentContext" if indirect else "PermissionsInCurrentContext"
    return api.granted_in_context(access_token=access, query_type=query)


def _revoke(grant_id: int, access: str) -> str:
    api = current_client().permissions
    with transaction() as s:
        row = s.get(Grant, grant_id)
        assert row is not None
        ids, indirect = row.ksef_ids.split(), row.kind == "indirect"
    held = {p.permission_id for p in _held(api, access, indirect=indirect) if p.active}
    for permission_id in ids:
        if permission_id in held:  # a repeated run skips what is gone already
            api.revoke(permission_id, access_token=access)
    _set(grant_id, GrantState.REVOKING, state=GrantState.REVOKED)
    return "revoked"


NEEDS_READ = (
    "KSeF refused to show the client's grants (403): the stored credentials may not read "
    "permissions (CredentialsRead or CredentialsManage). Reading stopped until the "
    "credentials change; store a KSeF token with that right or sign in with the owner's "
    "qualified signature, then read the grants again"
)


def _credentials_mark(s: Session, client_id: int) -> str:
    """What the client's credentials are now: a KSeF token, or a person's signed login."""
    ids = s.scalars(
        select(KsefCredential.id)
        .where(
            KsefCredential.client_id == client_id,
            (KsefCredential.kind == "ksef_token") | KsefCredential.created_by_user_id.is_not(None),
        )
        .order_by(KsefCredential.id)
    ).all()
    return ",".join(str(i) for i in ids)[:100]


def _note_pull(s: Session, client_id: int, *, error: str = "", stopped: bool = False) -> None:
    stamp = now()
    row = s.get(GrantPull, client_id)
    if row is None:
        row = GrantPull(client_id=client_id, last_run_at=stamp)
        s.add(row)
    row.last_run_at, row.error, row.stopped = stamp, error[:1000], stopped
    row.credentials_mark = _credentials_mark(s, client_id)
    if not error:
        row.last_ok_at = stamp


def _pull_failed(client_id: int, error: str, *, stopped: bool = False) -> None:
    with transaction() as s:
        _note_pull(s, client_id, error=error, stopped=stopped)
        if stopped:
            _audit_pull(s, client_id, "grants.read_refused", error, outcome="refused")


def _pull_stopped(client_id: int) -> bool:
    """A refused reading stays stopped while the credentials are what they were."""
    with transaction() as s:
        row = s.get(GrantPull, client_id)
        return bool(row and row.stopped and row.credentials_mark == _credentials_mark(s, client_id))


def pull_grants(client_id: int, asked: bool = False) -> str:
    """Mirror KSeF: grants of invoice rights made elsewhere appear, revoked ones close.

    Every run records how it went; a 403 stops the periodic runs until something changes
    (``asked`` is a person asking again).
    """
    if not asked and _pull_stopped(client_id):
        return "stopped"
    try:
        access = access_token_for(client_id)
    except (Conflict, KsefRefused, KsefError) as exc:
        _pull_failed(client_id, f"the grants cannot be read: {exc}")
        return "no-credentials"
    try:
        permissions = current_client().permissions.granted_in_context(access_token=access)
    except KsefForbidden:
        _pull_failed(client_id, NEEDS_READ, stopped=True)
        return "stopped"
    except (KsefUnavailable, KsefRateLimited) as exc:
        _pull_failed(client_id, f"KSeF could not be asked, it will be asked again: {exc}")
        return "unavailable"
    except KsefError as exc:
        _pull_failed(client_id, f"KSeF refused to show the grants: {exc}")
        return "failed"
    held = [p for p in permissions if p.active and p.scope in RIGHTS]
    held_ids = {p.permission_id for p in held}
    added = closed = 0
    with transaction() as s:
        rows = s.scalars(
            select(Grant).where(
                Grant.client_id == client_id,
                Grant.state.in_(_LIVE),
                Grant.kind != "indirect",  # those live in the bureau's context
            )
        ).all()
        known = {i for r in rows for i in r.ksef_ids.split()}
        for row in rows:
            if (
                row.state == GrantState.ACTIVE
                and row.ksef_ids
                and not (set(row.ksef_ids.split()) & held_ids)
            ):
                row.state, row.error, row.updated_at = GrantState.REVOKED, "revoked in KSeF", now()
                closed += 1
        fresh: dict[tuple[str, str], list[str]] = {}
        delegate: dict[tuple[str, str], bool] = {}
        for p in held:
            if p.permission_id not in known:
                key = (p.grantee_type, p.grantee_value)
                fresh.setdefault(key, []).append(p.permission_id)
                delegate[key] = delegate.get(key, False) or p.can_delegate
        for (grantee_type, value), ids in fresh.items():
            scopes = sorted({p.scope for p in held if p.permission_id in ids})
            stamp = now()
            s.add(
                Grant(
                    client_id=client_id,
                    kind="entity" if grantee_type == "Nip" else "person",
                    grantee_type=grantee_type,
                    grantee_value=value,
                    grantee_name="",
                    rights=" ".join(scopes),
                    can_delegate=delegate[(grantee_type, value)],
                    state=GrantState.ACTIVE,
                    source="ksef",
                    ksef_ids=" ".join(ids),
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            added += 1
        _note_pull(s, client_id)
        if added or closed:
            _audit_pull(s, client_id, "grants.pulled", f"added {added}, closed {closed}")
    return f"added {added}, closed {closed}"


def _audit_pull(s: Session, client_id: int, action: str, detail: str, outcome: str = "ok") -> None:
    client = s.get(ClientCompany, client_id)
    assert client is not None
    audit.for_client(
        s,
        None,
        action,
        client,
        outcome=outcome,
        detail=detail,
    )


def pull_status(actor: Actor, client_id: int) -> GrantPull | None:
    """How the last reading of the client's grants went (None before the first)."""
    with transaction() as s:
        load_client(s, actor, client_id)
        return s.get(GrantPull, client_id)


def pull_all() -> int:
    """Periodic: mirror the grants of every client whose KSeF credentials the service holds."""
    with transaction() as s:
        client_ids = s.scalars(
            select(KsefCredential.client_id).where(KsefCredential.client_id.is_not(None)).distinct()
        ).all()
        for client_id in client_ids:
            assert client_id is not None
            _enqueue(s, "pull_grants", client_id, client_id=client_id)
    return len(client_ids)


def bureau_has_active_grant(actor: Actor, bureau_id: int) -> bool:
    """Whether any client of the bureau holds a right active in KSeF (the first steps)."""
    if not actor.works_for_bureau(bureau_id):
        raise Forbidden("only the bureau's people see the invoices of all its clients")
    with transaction() as s:
        return bool(
            s.scalar(
                select(
                    select(Grant.id)
                    .join(ClientCompany, ClientCompany.id == Grant.client_id)
                    .where(ClientCompany.bureau_id == bureau_id, Grant.state == GrantState.ACTIVE)
                    .exists()
                )
            )
        )
