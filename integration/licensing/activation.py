"""Activation of self-hosted installations with Ed25519-signed registration keys.

The installation builds an *installation key* from the licensee's NIP, a fingerprint of the
installation and its module configuration. The platform compares it with the contract and
answers with a *registration key*: the accepted facts, signed with the platform's Ed25519 key.
The installation verifies it offline with the platform's public key; the key is bound to the
fingerprint and configuration, so copying it elsewhere or altering it makes it invalid.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.accounts import validation as check
from integration.accounts.actor import Actor
from integration.accounts.models import Person, UserAccount
from integration.accounts.secrets import hash_password, new_token
from integration.audit import service as audit
from integration.core.appctx import current_settings
from integration.core.clock import now
from integration.core.db import transaction
from integration.core.errors import Conflict, Forbidden, ValidationFailed
from integration.licensing.models import Activation, Contract
from integration.licensing.numbers import Module

PREFIX = "DLGI1"


class ActivationRefused(Conflict):
    slug, title = "activation-refused", "The installation cannot be activated"


class RegistrationKeyInvalid(ValueError):
    """The registration key is altered, foreign to this installation, or not signed by us."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def installation_fingerprint(*parts: str) -> str:
    """A stable fingerprint of an installation (e.g. machine id, database identity)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class InstallationRequest:
    licensee_nip: str
    fingerprint: str
    modules: Module
    seats: int


def installation_key(req: InstallationRequest) -> str:
    body = json.dumps(
        {
            "nip": req.licensee_nip,
            "fp": req.fingerprint,
            "modules": req.modules.names(),
            "seats": req.seats,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    check_digest = hashlib.sha256(body).hexdigest()[:8].upper()
    return f"{PREFIX}.{_b64(body)}.{check_digest}"


def parse_installation_key(key: str) -> InstallationRequest:
    try:
        prefix, body_text, digest = key.strip().split(".")
        body = _unb64(body_text)
        intact = prefix == PREFIX and hashlib.sha256(body).hexdigest()[:8].upper() == digest
        data = json.loads(body) if intact else {}
        return InstallationRequest(
            licensee_nip=check.nip(data["nip"]),
            fingerprint=str(data["fp"]),
            modules=Module.parse(list(data["modules"])),
            seats=int(data["seats"]),
        )
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise ValidationFailed.single(
            "installation_key", "not a valid installation key; copy it again from the installation"
        ) from None


def _signing_key() -> Ed25519PrivateKey:
    seed = current_settings().platform_signing_key
    if not seed:
        raise ActivationRefused(
            "this service is not configured to sign registration keys", reason="no-signing-key"
        )
    return Ed25519PrivateKey.from_private_bytes(_unb64(seed))


@dataclass(frozen=True)
class IssuedContract:
    contract: Contract
    temporary_password: str | None  # shown once, when the licensee's account was made now


def create_contract(
    actor: Actor,
    *,
    licensee_nip: str,
    licensee_name: str,
    licensee_email: str,
    modules: list[str],
    seats: int,
    paid: bool,
) -> IssuedContract:
    """Record what a self-hosted licensee paid for, and the person who activates it.

    A person without an account gets one with a temporary password (shown once), which
    they must change at their first sign-in to the platform's control panel.
    """
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin records contracts")
    try:
        module_value = Module.parse(modules)
    except ValueError as exc:
        raise ValidationFailed.single("modules", str(exc)) from None
    email = check.email(licensee_email)
    name = check.text(licensee_name, "licensee_name")
    temporary: str | None = None
    with transaction() as s:
        user = s.scalar(select(UserAccount).where(UserAccount.email == email))
        if user is None:
            temporary = new_token(12)
            user = UserAccount(
                email=email,
                person=Person(first_name=name[:100], last_name="", email=email),
                password_hash=hash_password(temporary),
                must_change_password=True,
                welcome_sent_at=now(),  # the platform admin hands the password over
            )
            s.add(user)
            s.flush()
        contract = Contract(
            licensee_nip=check.nip(licensee_nip),
            licensee_name=name,
            licensee_email=email,
            licensee_user_id=user.id,
            modules=int(module_value),
            seats=seats,
            paid=paid,
        )
        s.add(contract)
        s.flush()
        audit.record(
            s,
            actor,
            "contract.created",
            object_type="contract",
            object_id=contract.id,
            detail=f"{name} (NIP {contract.licensee_nip}), {seats} seats, {email}",
        )
    return IssuedContract(contract, temporary)


@dataclass(frozen=True)
class Difference:
    """One fact of the installation key beside what the contract allows."""

    field: str  # licensee_nip | paid | modules | seats | installation
    installation: str
    contract: str
    ok: bool
    reason: str  # the refusal's reason code when not ok


@dataclass(frozen=True)
class Check:
    contract_id: int | None
    licensee_name: str
    differences: list[Difference]
    activated_at: datetime | None

    @property
    def may_generate(self) -> bool:
        return self.contract_id is not None and all(d.ok for d in self.differences)


def _contract_of(s: Session, actor: Actor, nip: str) -> Contract | None:
    """The newest contract of ``nip`` that the actor may activate (its licensee, the admin)."""
    stmt = select(Contract).where(Contract.licensee_nip == nip)
    if not actor.is_platform_admin:
        stmt = stmt.where(Contract.licensee_user_id == actor.user_id)
    return s.scalar(stmt.order_by(Contract.id.desc()).with_for_update())


def _compare(s: Session, actor: Actor, req: InstallationRequest) -> tuple[Contract | None, Check]:
    contract = _contract_of(s, actor, req.licensee_nip)
    if contract is None:
        mine = s.scalars(
            select(Contract.licensee_nip).where(Contract.licensee_user_id == actor.user_id)
        ).all()
        nip = Difference(
            "licensee_nip",
            req.licensee_nip,
            ", ".join(sorted(set(mine))) or "—",
            False,
            "unknown-licensee",
        )
        return None, Check(None, "", [nip], None)
    allowed = Module(contract.modules)
    extra = req.modules & ~allowed
    held = s.scalar(
        select(Activation)
        .where(Activation.contract_id == contract.id)
        .order_by(Activation.id.desc())
    )
    elsewhere = held is not None and held.fingerprint != req.fingerprint
    differences = [
        Difference("licensee_nip", req.licensee_nip, contract.licensee_nip, True, ""),
        Difference("paid", "—", "yes" if contract.paid else "no", contract.paid, "unpaid"),
        Difference(
            "modules",
            ", ".join(req.modules.names()) or "—",
            ", ".join(allowed.names()) or "—",
            not extra,
            "modules-not-licensed",
        ),
        Difference(
            "seats",
            str(req.seats),
            str(contract.seats),
            req.seats == contract.seats,
            "seats-mismatch",
        ),
        Difference(
            "installation",
            req.fingerprint[:16],
            f"activated on {held.fingerprint[:16]} on {held.created_at:%d.%m.%Y}"
            if held is not None
            else "not activated yet",
            not elsewhere,
            "another-installation",
        ),
    ]
    return contract, Check(
        contract.id, contract.licensee_name, differences, held.created_at if held else None
    )


def check_installation(actor: Actor, key: str) -> Check:
    """Compare an installation key with the contract, field by field (nothing is written)."""
    if actor.user_id is None and not actor.is_platform_admin:
        raise Forbidden("sign in to the control panel to check an installation")
    req = parse_installation_key(key)
    with transaction() as s:
        return _compare(s, actor, req)[1]


_MESSAGES = {
    "unknown-licensee": "no contract of yours for this licensee NIP",
    "unpaid": "the contract is not paid",
    "modules-not-licensed": "the installation asks for modules the contract does not include",
    "seats-mismatch": "the installation asks for another number of seats than the contract's",
    "another-installation": (
        "this licence is already activated on another installation (workplace); one licence "
        "activates one installation: ask the platform to move it"
    ),
}


def activate(actor: Actor, key: str) -> str:
    """A signed registration key for the installation, when its key matches the contract.

    One installation per contract: the same installation asking again gets its key again;
    another installation is refused with the reason.
    """
    if actor.user_id is None and not actor.is_platform_admin:
        raise Forbidden("sign in to the control panel to activate an installation")
    req = parse_installation_key(key)
    with transaction() as s:
        contract, check_result = _compare(s, actor, req)
        failed = [d for d in check_result.differences if not d.ok]
        if contract is None or failed:
            first = failed[0]
            raise ActivationRefused(
                _MESSAGES[first.reason],
                reason=first.reason,
                field=first.field,
                installation=first.installation,
                contract=first.contract,
            )
        held = s.scalar(
            select(Activation)
            .where(Activation.contract_id == contract.id)
            .order_by(Activation.id.desc())
        )
        if held is not None and held.modules == int(req.modules) and held.seats == req.seats:
            return held.registration_key
        payload = {
            "contract": contract.id,
            "nip": req.licensee_nip,
            "fp": req.fingerprint,
            "modules": req.modules.names(),
            "seats": req.seats,
            "issued_at": now().isoformat(),
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        registration = f"{_b64(body)}.{_b64(_signing_key().sign(body))}"
        s.add(
            Activation(
                contract_id=contract.id,
                fingerprint=req.fingerprint,
                modules=int(req.modules),
                seats=req.seats,
                registration_key=registration,
            )
        )
        modules = ", ".join(req.modules.names())
        audit.record(
            s,
            actor,
            "installation.activated",
            object_type="contract",
            object_id=contract.id,
            detail=f"installation {req.fingerprint[:16]}: {modules}",
        )
    return registration


def verify_registration_key(
    key: str, *, public_key: bytes, fingerprint: str, modules: Module, seats: int
) -> dict[str, Any]:
    """Offline check at the installation: signed by the platform, bound to this setup."""
    try:
        body_text, signature_text = key.strip().split(".")
        body = _unb64(body_text)
        Ed25519PublicKey.from_public_bytes(public_key).verify(_unb64(signature_text), body)
        payload: dict[str, Any] = json.loads(body)
    except (ValueError, InvalidSignature, json.JSONDecodeError):
        raise RegistrationKeyInvalid(
            "the registration key is damaged or was not issued by Delegat"
        ) from None
    if payload.get("fp") != fingerprint:
        raise RegistrationKeyInvalid("the registration key belongs to another installation")
    if Module.parse(payload.get("modules", [])) != modules or payload.get("seats") != seats:
        raise RegistrationKeyInvalid("the installation's modules or seats changed; activate again")
    return payload
