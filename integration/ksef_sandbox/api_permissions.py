"""Permissions (grants, revocations, operations, queries), KSeF tokens and /testdata."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from integration.ksef_sandbox import crypto
from integration.ksef_sandbox.common import (
    body,
    config,
    continuation_offset,
    iso,
    need,
    page_offset,
    page_size,
    status,
    store,
)
from integration.ksef_sandbox.errors import KsefError, ProblemError, validation
from integration.ksef_sandbox.rights import (
    INVOICE_RIGHTS,
    PERSON_RIGHTS,
    Identity,
    delegable,
    effective_rights,
    record_grant,
)
from integration.ksef_sandbox.security import Caller, caller
from integration.ksef_sandbox.state import Grant, KsefToken, Operation, Subject

bp = Blueprint("sandbox_permissions", __name__)
MANAGE = frozenset({"CredentialsManage"})
READ = frozenset({"CredentialsManage", "CredentialsRead"})
OPERATION_TEXT = {
    100: "Operacja przyjęta do realizacji",
    200: "Operacja zakończona sukcesem",
    400: "Operacja zakończona niepowodzeniem",
    410: "Podane identyfikatory są niezgodne lub pozostają w niewłaściwej relacji",
    420: "Użyte poświadczenia nie mają uprawnień do wykonania tej operacji",
    430: "Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniu",
    440: "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
    450: "Operacja niedozwolona dla wskazanego identyfikatora lub jego typu",
}
AUTHORIZATIONS = ("SelfInvoicing", "RRInvoicing", "TaxRepresentative", "PefInvoicing")


def _description(data: dict[str, Any]) -> str:
    text = need(data, "description")
    if not 5 <= len(text) <= 256:
        raise validation("description must have 5 to 256 characters.")
    return str(text)


def _identifier(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    ident = need(data, key, dict)
    kind, value = ident.get("type"), ident.get("value")
    if kind not in allowed:
        raise validation(f"{key}.type must be one of {', '.join(allowed)}.")
    if kind == "AllPartners":
        return kind, None
    if not isinstance(value, str) or not value:
        raise validation(f"{key}.value is required.")
    checks: dict[str, Callable[[str], bool]] = {
        "Nip": crypto.valid_nip,
        "Pesel": crypto.valid_pesel,
        "Fingerprint": lambda v: len(v) == 64 and all(c in "0123456789abcdefABCDEF" for c in v),
    }
    if kind in checks and not checks[kind](value):
        raise validation(f"{key}.value is not a valid {kind}.")
    return kind, value.upper() if kind == "Fingerprint" else value


def _person_details(data: dict[str, Any]) -> dict[str, Any]:
    details = need(data, "subjectDetails", dict)
    kind = details.get("subjectDetailsType")
    member = {
        "PersonByIdentifier": "personById",
        "PersonByFingerprintWithIdentifier": "personByFpWithId",
        "PersonByFingerprintWithoutIdentifier": "personByFpNoId",
    }.get(str(kind))
    if member is None or not isinstance(details.get(member), dict):
        raise validation("subjectDetails must fill the member matching subjectDetailsType.")
    person = details[member]
    for name, low, high in (("firstName", 2, 30), ("lastName", 2, 81)):
        value = person.get(name)
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise validation(f"subjectDetails.{member}.{name} must have {low}-{high} characters.")
    return dict(details)


def _operation(s: Session, context: str, code: int = 200, details: list[str] | None = None) -> str:
    now = store().now()
    ref = crypto.reference_number("EG", now)
    s.add(
        Operation(
            reference_number=ref,
            context_value=context,
            status_code=code,
            status_details=details,
            created_at=now,
        )
    )
    return ref


def _grant(
    s: Session,
    who: Caller,
    kind: str,
    grantee: tuple[str, str | None],
    *,
    permissions: list[tuple[str, bool]],
    description: str,
    details: dict[str, Any] | None,
    target: tuple[str, str | None] | None = None,
) -> None:
    record_grant(
        s,
        now=store().now(),
        kind=kind,
        context=(who.context_type, who.context_value),
        author=who.identity or Identity("Nip", who.context_value),
        grantee=(grantee[0], grantee[1] or ""),
        permissions=permissions,
        description=description,
        details=details,
        target=target,
    )


@bp.post("/permissions/persons/grants")
def grant_persons() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(MANAGE)
        grantee = _identifier(data, "subjectIdentifier", ("Nip", "Pesel", "Fingerprint"))
        perms = need(data, "permissions", list)
        if not perms or any(p not in PERSON_RIGHTS for p in perms):
            raise validation("permissions must be a non-empty list of person permissions.")
        description, details = _description(data), _person_details(data)
        if "EnforcementOperations" in perms:
            bailiff = s.scalar(
                sa.select(Subject.id).where(
                    Subject.nip == who.context_value, Subject.is_bailiff.is_(True)
                )
            )
            if bailiff is None:
                return {"referenceNumber": _operation(s, who.context_value, 430)}, 202
        _grant(
            s,
            who,
            "person",
            grantee,
            permissions=[(p, False) for p in perms],
            description=description,
            details=details,
        )
        return {"referenceNumber": _operation(s, who.context_value)}, 202


@bp.post("/permissions/entities/grants")
def grant_entities() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(MANAGE)
        grantee = _identifier(data, "subjectIdentifier", ("Nip",))
        perms = need(data, "permissions", list)
        parsed: list[tuple[str, bool]] = []
        for item in perms:
            if not isinstance(item, dict) or item.get("type") not in INVOICE_RIGHTS:
                raise validation("permissions[].type must be InvoiceRead or InvoiceWrite.")
            parsed.append((item["type"], bool(item.get("canDelegate", False))))
        if not parsed:
            raise validation("permissions must not be empty.")
        details = need(data, "subjectDetails", dict)
        name = details.get("fullName")
        if not isinstance(name, str) or not 5 <= len(name) <= 90:
            raise validation("subjectDetails.fullName must have 5-90 characters.")
        _grant(
            s,
            who,
            "entity",
            grantee,
            permissions=parsed,
            description=_description(data),
            details=details,
        )
        return {"referenceNumber": _operation(s, who.context_value)}, 202


@bp.post("/permissions/indirect/grants")
def grant_indirect() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(MANAGE)
        grantee = _identifier(data, "subjectIdentifier", ("Nip", "Pesel", "Fingerprint"))
        perms = need(data, "permissions", list)
        if not perms or any(p not in INVOICE_RIGHTS for p in perms):
            raise validation("permissions must be InvoiceRead and/or InvoiceWrite.")
        description, details = _description(data), _person_details(data)
        target = (
            _identifier(data, "targetIdentifier", ("Nip", "InternalId", "AllPartners"))
            if data.get("targetIdentifier") is not None
            else ("AllPartners", None)
        )
        if target[0] != "AllPartners":
            allowed = delegable(s, str(target[1]), who.context_value)
            if not set(perms) <= allowed:
                return {
                    "referenceNumber": _operation(
                        s,
                        who.context_value,
                        430,
                        ["The target did not delegate these rights to this context."],
                    )
                }, 202
        _grant(
            s,
            who,
            "indirect",
            grantee,
            permissions=[(p, False) for p in perms],
            description=description,
            details=details,
            target=target,
        )
        return {"referenceNumber": _operation(s, who.context_value)}, 202


@bp.post("/permissions/authorizations/grants")
def grant_authorization() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(MANAGE)
        grantee = _identifier(data, "subjectIdentifier", ("Nip", "PeppolId"))
        permission = need(data, "permission")
        if permission not in AUTHORIZATIONS:
            raise validation(f"permission must be one of {', '.join(AUTHORIZATIONS)}.")
        details = need(data, "subjectDetails", dict)
        _grant(
            s,
            who,
            "authorization",
            grantee,
            permissions=[(permission, False)],
            description=_description(data),
            details=details,
        )
        return {"referenceNumber": _operation(s, who.context_value)}, 202


def _revoke(permission_id: str, kinds: tuple[str, ...]) -> Any:
    with store().session() as s:
        who = caller(s)
        who.require(MANAGE)
        grant = s.get(Grant, permission_id)
        if (
            grant is None
            or grant.kind not in kinds
            or grant.revoked_at is not None
            or grant.context_value != who.context_value
        ):
            return {
                "referenceNumber": _operation(
                    s, who.context_value, 410, ["Permission not found in this context."]
                )
            }, 202
        grant.revoked_at = store().now()
        return {"referenceNumber": _operation(s, who.context_value)}, 202


@bp.delete("/permissions/common/grants/<permission_id>")
def revoke_common(permission_id: str) -> Any:
    return _revoke(permission_id, ("person", "entity", "indirect", "subunit"))


@bp.delete("/permissions/authorizations/grants/<permission_id>")
def revoke_authorization(permission_id: str) -> Any:
    return _revoke(permission_id, ("authorization",))


@bp.get("/permissions/operations/<reference>")
def operation_status(reference: str) -> Any:
    with store().session() as s:
        who = caller(s)
        op = s.get(Operation, reference)
        if op is None or op.context_value != who.context_value:
            raise validation(f"Operation {reference} not found.")
        if op.created_at + dt.timedelta(days=30) < store().now():
            raise ProblemError(410, "Status operacji nie jest już dostępny.")
        return {
            "status": status(
                op.status_code, OPERATION_TEXT.get(op.status_code, "Status"), op.status_details
            )
        }


def _page(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    size, offset = page_size(10, 10, 100), page_offset()
    return {
        key: items[offset * size : (offset + 1) * size],
        "hasMore": (offset + 1) * size < len(items),
    }


def _ident(kind: str | None, value: str | None) -> dict[str, Any]:
    return {"type": kind, **({"value": value} if value else {})}


def _grant_item(g: Grant, *, author: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": g.id,
        "authorizedIdentifier": _ident(g.grantee_type, g.grantee_value),
        "contextIdentifier": _ident(g.context_type, g.context_value),
        "permissionScope": g.permission,
        "description": g.description,
        "permissionState": "Active" if g.revoked_at is None else "Inactive",
        "startDate": iso(g.start_date),
        "canDelegate": g.can_delegate,
    }
    if g.target_type:
        out["targetIdentifier"] = _ident(g.target_type, g.target_value)
    if author:
        out["authorIdentifier"] = _ident(g.author_type, g.author_value)
    details = g.subject_details or {}
    if g.kind == "entity" and details.get("fullName"):
        out["subjectEntityDetails"] = {
            "subjectDetailsType": "EntityByIdentifier",
            "fullName": details["fullName"],
        }
    elif details.get("personById"):
        out["subjectPersonDetails"] = {
            "subjectDetailsType": "PersonByIdentifier",
            "firstName": details["personById"]["firstName"],
            "lastName": details["personById"]["lastName"],
        }
    return out


@bp.post("/permissions/query/persons/grants")
def query_persons() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(READ | {"SubunitManage"})
        query_type = need(data, "queryType")
        stmt = sa.select(Grant).where(
            Grant.kind.in_(("person", "entity", "indirect")), Grant.revoked_at.is_(None)
        )
        if query_type == "PermissionsInCurrentContext":
            stmt = stmt.where(
                Grant.context_value == who.context_value, Grant.kind.in_(("person", "entity"))
            )
        elif query_type == "PermissionsGrantedInCurrentContext":
            stmt = stmt.where(Grant.context_value == who.context_value)
        else:
            raise validation(
                "queryType must be PermissionsInCurrentContext or "
                "PermissionsGrantedInCurrentContext."
            )
        rows = s.scalars(stmt.order_by(Grant.start_date.desc(), Grant.id)).all()
        return _page([_grant_item(g) for g in rows], "permissions")


@bp.post("/permissions/query/personal/grants")
def query_personal() -> Any:
    with store().session() as s:
        who = caller(s)
        if who.identity is None:
            return _page([], "permissions")
        stmt = sa.select(Grant).where(
            Grant.grantee_type == who.identity.type,
            Grant.grantee_value == who.identity.value,
            Grant.revoked_at.is_(None),
        )
        rows = s.scalars(stmt.order_by(Grant.start_date.desc(), Grant.id)).all()
        items = [_grant_item(g, author=False) for g in rows]
        for item in items:
            item.pop("authorizedIdentifier", None)
            item["authorizedIdentifier"] = _ident(who.identity.type, who.identity.value)
        return _page(items, "permissions")


@bp.post("/permissions/query/entities/grants")
def query_entities() -> Any:
    data = request.get_json(silent=True) or {}
    with store().session() as s:
        who = caller(s)
        who.require(READ)
        stmt = sa.select(Grant).where(
            Grant.kind == "entity",
            Grant.grantee_type == "Nip",
            Grant.grantee_value == who.context_value,
            Grant.revoked_at.is_(None),
        )
        ctx = data.get("contextIdentifier") if isinstance(data, dict) else None
        if isinstance(ctx, dict) and ctx.get("value"):
            stmt = stmt.where(Grant.context_value == ctx["value"])
        rows = s.scalars(stmt.order_by(Grant.start_date.desc(), Grant.id)).all()
        return _page(
            [
                {
                    "id": g.id,
                    "contextIdentifier": _ident(g.context_type, g.context_value),
                    "permissionScope": g.permission,
                    "description": g.description,
                    "startDate": iso(g.start_date),
                    "canDelegate": g.can_delegate,
                }
                for g in rows
            ],
            "permissions",
        )


@bp.post("/permissions/query/authorizations/grants")
def query_authorizations() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        who.require(READ | {"PefInvoiceWrite"})
        query_type = need(data, "queryType")
        stmt = sa.select(Grant).where(Grant.kind == "authorization", Grant.revoked_at.is_(None))
        if query_type == "Granted":
            stmt = stmt.where(Grant.context_value == who.context_value)
        elif query_type == "Received":
            stmt = stmt.where(Grant.grantee_value == who.context_value)
        else:
            raise validation("queryType must be Granted or Received.")
        rows = s.scalars(stmt.order_by(Grant.start_date.desc(), Grant.id)).all()
        return _page(
            [
                {
                    "id": g.id,
                    "authorIdentifier": _ident(g.author_type, g.author_value),
                    "authorizedEntityIdentifier": _ident(g.grantee_type, g.grantee_value),
                    "authorizingEntityIdentifier": _ident("Nip", g.context_value),
                    "authorizationScope": g.permission,
                    "description": g.description,
                    "startDate": iso(g.start_date),
                }
                for g in rows
            ],
            "authorizationGrants",
        )


@bp.get("/permissions/attachments/status")
def attachments_status() -> Any:
    with store().session() as s:
        who = caller(s)
        who.require(READ)
        allowed = s.scalar(
            sa.select(Subject.id).where(
                Subject.nip == who.context_value, Subject.attachments_allowed.is_(True)
            )
        )
        return {"isAttachmentAllowed": allowed is not None}


# ---------------------------------------------------------------------------- tokens
TOKEN_RIGHTS = frozenset(
    {
        "InvoiceRead",
        "InvoiceWrite",
        "CredentialsRead",
        "CredentialsManage",
        "SubunitManage",
        "EnforcementOperations",
        "Introspection",
    }
)


def _token_status(t: KsefToken, now: dt.datetime) -> str:
    if t.revoked_at is not None:
        return "Revoked"
    return "Active" if t.active_from <= now else "Pending"


def _token_item(t: KsefToken, now: dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "referenceNumber": t.reference_number,
        "authorIdentifier": _ident(t.author_type, t.author_value),
        "contextIdentifier": _ident(t.context_type, t.context_value),
        "description": t.description,
        "requestedPermissions": list(t.permissions),
        "dateCreated": iso(t.created_at),
        "status": _token_status(t, now),
    }
    if t.last_use_at:
        out["lastUseDate"] = iso(t.last_use_at)
    return out


def mint_token(
    s: Session,
    *,
    now: dt.datetime,
    context_type: str,
    context_value: str,
    author: Identity,
    permissions: list[str],
    description: str,
    active_after: dt.timedelta,
) -> tuple[str, str]:
    """Create a KSeF token; returns (reference number, secret)."""
    ref = crypto.reference_number("EC", now)
    secret = (
        f"{ref}|{context_type.lower() if context_type != 'Nip' else 'nip'}-{context_value}|"
        f"{secrets.token_hex(32)}"
    )
    s.add(
        KsefToken(
            reference_number=ref,
            secret_hash=crypto.secret_hash(secret),
            context_type=context_type,
            context_value=context_value,
            author_type=author.type,
            author_value=author.value,
            permissions=sorted(permissions),
            description=description,
            created_at=now,
            active_from=now + active_after,
        )
    )
    return ref, secret


@bp.post("/tokens")
def create_token() -> Any:
    data = body()
    with store().session() as s:
        who = caller(s)
        if who.context_type not in ("Nip", "InternalId"):
            raise KsefError(26002, "Nie można wygenerować tokena dla tego typu kontekstu.")
        perms = need(data, "permissions", list)
        if not perms or any(p not in TOKEN_RIGHTS for p in perms):
            raise validation("permissions must be a non-empty list of token permissions.")
        if who.identity is None:
            raise KsefError(26001, "Brak uprawnień do wygenerowania tokena.")
        held = effective_rights(s, who.identity, who.context_type, who.context_value)
        if "Owner" not in held and not set(perms) <= held:
            raise KsefError(
                26001,
                "Nie można nadać tokenowi uprawnień, których nie posiada wywołujący.",
                sorted(set(perms) - held),
            )
        ref, secret = mint_token(
            s,
            now=store().now(),
            context_type=who.context_type,
            context_value=who.context_value,
            author=who.identity,
            permissions=perms,
            description=_description(data),
            active_after=config().token_activation_delay,
        )
        return {"referenceNumber": ref, "token": secret}, 202


def _visible_tokens(who: Caller) -> sa.ColumnElement[bool]:
    cond = KsefToken.context_value == who.context_value
    if READ & who.permissions or "Owner" in who.permissions:
        return cond
    if who.ksef_token_ref:
        return sa.and_(cond, KsefToken.reference_number == who.ksef_token_ref)
    value = who.identity.value if who.identity else ""
    return sa.and_(cond, KsefToken.author_value == value)


@bp.get("/tokens")
def list_tokens() -> Any:
    size, offset = page_size(10, 10, 100), continuation_offset()
    with store().session() as s:
        who = caller(s)
        stmt = sa.select(KsefToken).where(_visible_tokens(who))
        now = store().now()
        rows = s.scalars(stmt.order_by(KsefToken.created_at.desc())).all()
        wanted = request.args.getlist("status")
        if wanted:
            rows = [r for r in rows if _token_status(r, now) in wanted]
        text = request.args.get("description")
        if text:
            rows = [r for r in rows if text.lower() in r.description.lower()]
        page = rows[offset : offset + size]
        out: dict[str, Any] = {"tokens": [_token_item(t, now) for t in page]}
        if offset + size < len(rows):
            out["continuationToken"] = str(offset + size)
        return out


@bp.get("/tokens/<reference>")
def get_token(reference: str) -> Any:
    with store().session() as s:
        who = caller(s)
        row = s.scalar(
            sa.select(KsefToken).where(
                _visible_tokens(who), KsefToken.reference_number == reference
            )
        )
        if row is None:
            raise validation(f"Token {reference} not found.")
        return _token_item(row, store().now())


@bp.delete("/tokens/<reference>")
def revoke_token(reference: str) -> Response:
    with store().session() as s:
        who = caller(s)
        row = s.get(KsefToken, reference)
        allowed = (
            row is not None
            and row.context_value == who.context_value
            and (
                bool({"CredentialsManage", "Owner"} & who.permissions)
                or who.ksef_token_ref == reference
                or (who.identity is not None and row.author_value == who.identity.value)
            )
        )
        if row is None or not allowed:
            raise validation(f"Token {reference} not found.")
        row.revoked_at = row.revoked_at or store().now()
    return Response(status=204)


# ---------------------------------------------------------------------------- test data
@bp.post("/testdata/subject")
def testdata_subject() -> Any:
    data = body()
    nip = need(data, "subjectNip")
    if not crypto.valid_nip(nip):
        raise validation("subjectNip is not a valid NIP.")
    with store().session() as s:
        if s.scalar(sa.select(Subject.id).where(Subject.kind == "entity", Subject.nip == nip)):
            raise KsefError(30001, "Podmiot już istnieje.")
        s.add(
            Subject(
                kind="entity",
                nip=nip,
                description=data.get("description", ""),
                subject_type=data.get("subjectType"),
            )
        )
    return Response(status=200)


@bp.post("/testdata/subject/remove")
def testdata_subject_remove() -> Response:
    nip = need(body(), "subjectNip")
    with store().session() as s:
        s.execute(sa.delete(Subject).where(Subject.kind == "entity", Subject.nip == nip))
    return Response(status=200)


@bp.post("/testdata/person")
def testdata_person() -> Response:
    data = body()
    nip, pesel = need(data, "nip"), need(data, "pesel")
    if not crypto.valid_nip(nip) or not crypto.valid_pesel(pesel):
        raise validation("nip or pesel is not valid.")
    with store().session() as s:
        if s.scalar(
            sa.select(Subject.id).where(
                Subject.kind == "person", Subject.nip == nip, Subject.pesel == pesel
            )
        ):
            raise KsefError(30001, "Osoba już istnieje.")
        s.add(
            Subject(
                kind="person",
                nip=nip,
                pesel=pesel,
                description=data.get("description", ""),
                is_bailiff=bool(data.get("isBailiff")),
                is_deceased=bool(data.get("isDeceased")),
            )
        )
    return Response(status=200)


@bp.post("/testdata/person/remove")
def testdata_person_remove() -> Response:
    nip = need(body(), "nip")
    with store().session() as s:
        s.execute(sa.delete(Subject).where(Subject.kind == "person", Subject.nip == nip))
    return Response(status=200)


@bp.post("/testdata/permissions")
def testdata_permissions() -> Response:
    data = body()
    ctx = need(data, "contextIdentifier", dict)
    who = need(data, "authorizedIdentifier", dict)
    perms = need(data, "permissions", list)
    now = store().now()
    with store().session() as s:
        for item in perms:
            if not isinstance(item, dict) or item.get("permissionType") not in PERSON_RIGHTS:
                raise validation("permissions[].permissionType is not valid.")
            s.add(
                Grant(
                    id=str(uuid.uuid4()),
                    kind="person",
                    context_type=ctx.get("type", "Nip"),
                    context_value=str(ctx.get("value")),
                    grantee_type=str(who.get("type")),
                    grantee_value=str(who.get("value")),
                    permission=item["permissionType"],
                    description=item.get("description") or "testdata",
                    author_type="System",
                    author_value=None,
                    start_date=now,
                )
            )
    return Response(status=200)


@bp.post("/testdata/permissions/revoke")
def testdata_permissions_revoke() -> Response:
    data = body()
    ctx = need(data, "contextIdentifier", dict)
    who = need(data, "authorizedIdentifier", dict)
    with store().session() as s:
        for grant in s.scalars(
            sa.select(Grant).where(
                Grant.context_value == ctx.get("value"),
                Grant.grantee_value == who.get("value"),
                Grant.revoked_at.is_(None),
            )
        ):
            grant.revoked_at = store().now()
    return Response(status=200)


def _flag(field: str, value: bool) -> Response:
    nip = need(body(), "nip") if field == "attachments_allowed" else None
    data = request.get_json(silent=True) or {}
    if nip is None:
        ctx = data.get("contextIdentifier") or {}
        nip = ctx.get("value") if isinstance(ctx, dict) else None
    if not isinstance(nip, str) or not crypto.valid_nip(nip):
        raise validation("a valid NIP is required.")
    with store().session() as s:
        row = s.scalar(sa.select(Subject).where(Subject.kind == "entity", Subject.nip == nip))
        if row is None:
            row = Subject(kind="entity", nip=nip, description="")
            s.add(row)
        setattr(row, field, value)
    return Response(status=200)


@bp.post("/testdata/attachment")
def testdata_attachment() -> Response:
    return _flag("attachments_allowed", True)


@bp.post("/testdata/attachment/revoke")
def testdata_attachment_revoke() -> Response:
    return _flag("attachments_allowed", False)


@bp.post("/testdata/context/block")
def testdata_block() -> Response:
    return _flag("blocked", True)


@bp.post("/testdata/context/unblock")
def testdata_unblock() -> Response:
    return _flag("blocked", False)
