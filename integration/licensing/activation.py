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
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select

from integration.accounts import validation as check
from integration.accounts.actor import Actor
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


def create_contract(
    actor: Actor,
    *,
    licensee_nip: str,
    licensee_name: str,
    modules: list[str],
    seats: int,
    paid: bool,
) -> Contract:
    if not actor.is_platform_admin:
        raise Forbidden("only the platform admin records contracts")
    try:
        module_value = Module.parse(modules)
    except ValueError as exc:
        raise ValidationFailed.single("modules", str(exc)) from None
    with transaction() as s:
        contract = Contract(
            licensee_nip=check.nip(licensee_nip),
            licensee_name=check.text(licensee_name, "licensee_name"),
            modules=int(module_value),
            seats=seats,
            paid=paid,
        )
        s.add(contract)
    return contract


def activate(key: str) -> str:
    """Compare an installation key with the contract; return a signed registration key."""
    req = parse_installation_key(key)
    with transaction() as s:
        contract = s.scalar(
            select(Contract)
            .where(Contract.licensee_nip == req.licensee_nip)
            .order_by(Contract.id.desc())
        )
        if contract is None:
            raise ActivationRefused("no contract for this licensee", reason="unknown-licensee")
        if not contract.paid:
            raise ActivationRefused("the contract is not paid", reason="unpaid")
        extra = req.modules & ~Module(contract.modules)
        if extra:
            raise ActivationRefused(
                f"modules not in the contract: {', '.join(extra.names())}",
                reason="modules-not-licensed",
                modules=extra.names(),
            )
        if req.seats != contract.seats:
            raise ActivationRefused(
                f"the contract has {contract.seats} seats, the installation asks for {req.seats}",
                reason="seats-mismatch",
            )
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
