"""The installation side of activation: a self-hosted Delegat checks its registration key.

An installation is self-hosted when it is given the platform's public key
(``DELEGAT_PLATFORM_VERIFY_KEY``). It then works only as its registration key
(``DELEGAT_REGISTRATION_KEY``) allows: the modules and the seats the key names, for this
installation alone (its fingerprint comes from an identity kept in its own database). Without
a valid key it is read-only and says why. The licensee gets the key from the platform's
control panel by pasting this installation's key (``flask delegat installation key``).
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.core.appctx import current_settings
from integration.core.db import transaction
from integration.core.errors import ClientReadOnly
from integration.licensing.activation import (
    InstallationRequest,
    RegistrationKeyInvalid,
    installation_fingerprint,
    installation_key,
    verify_registration_key,
)
from integration.licensing.models import Installation
from integration.licensing.numbers import Module

log = logging.getLogger(__name__)


class InstallationNotActivated(ClientReadOnly):
    slug, title = "installation-not-activated", "This installation is not activated"


@dataclass(frozen=True)
class InstallationStatus:
    self_hosted: bool
    active: bool
    modules: Module | None  # None: not limited by a registration key
    seats: int | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "self_hosted": self.self_hosted,
            "active": self.active,
            "modules": self.modules.names() if self.modules is not None else None,
            "seats": self.seats,
            "reason": self.reason or None,
        }


NOT_SELF_HOSTED = InstallationStatus(False, True, None, None, "")
_known: dict[tuple[str, str], InstallationStatus] = {}


def _identity(s: Session) -> str:
    """This installation's identity, made once and kept in its database."""
    found = s.scalar(select(Installation.installation_id).where(Installation.id == 1))
    if found is not None:
        return found
    made = str(uuid.uuid4())
    try:
        with s.begin_nested():
            s.add(Installation(id=1, installation_id=made))
    except IntegrityError:  # another process made it first
        found = s.scalar(select(Installation.installation_id).where(Installation.id == 1))
        assert found is not None
        return found
    return made


def _wanted() -> tuple[str, Module, int]:
    settings = current_settings()
    names = [n.strip() for n in (settings.installation_modules or "").split(",") if n.strip()]
    return settings.licensee_nip or "", Module.parse(names), settings.installation_seats


def this_installation_key() -> str:
    """The key the licensee pastes into the platform's control panel."""
    nip, modules, seats = _wanted()
    with transaction() as s:
        fingerprint = installation_fingerprint(_identity(s), nip)
    return installation_key(InstallationRequest(nip, fingerprint, modules, seats))


def status() -> InstallationStatus:
    """Whether this installation may work, and within what (checked once per process)."""
    settings = current_settings()
    if not settings.platform_verify_key:
        return NOT_SELF_HOSTED
    cache_key = (settings.database_url, settings.registration_key or "")
    if cache_key not in _known:
        _known[cache_key] = _check()
    return _known[cache_key]


def _check() -> InstallationStatus:
    settings = current_settings()
    nip, modules, seats = _wanted()
    how = (
        "the licensee pastes this installation's key (flask delegat installation key) into "
        "the platform's control panel and sets the registration key it gives as "
        "DELEGAT_REGISTRATION_KEY"
    )
    if not settings.registration_key:
        return InstallationStatus(True, False, Module(0), 0, f"not activated yet: {how}")
    with transaction() as s:
        fingerprint = installation_fingerprint(_identity(s), nip)
    verify_key = settings.platform_verify_key or ""
    try:
        payload = verify_registration_key(
            settings.registration_key,
            public_key=base64.urlsafe_b64decode(verify_key + "=" * (-len(verify_key) % 4)),
            fingerprint=fingerprint,
            modules=modules,
            seats=seats,
        )
    except (RegistrationKeyInvalid, ValueError) as exc:
        return InstallationStatus(True, False, Module(0), 0, f"{exc}; {how}")
    if payload.get("nip") != nip:
        return InstallationStatus(
            True, False, Module(0), 0, f"the registration key is another licensee's; {how}"
        )
    return InstallationStatus(True, True, modules, seats, "")


def forget() -> None:
    """Check again on the next look (after the settings or the database changed)."""
    _known.clear()


def require_active() -> None:
    found = status()
    if not found.active:
        raise InstallationNotActivated(
            f"this installation is read-only: {found.reason}", installation=found.as_dict()
        )


def report() -> None:
    """At start: say whether this self-hosted installation runs, and why not."""
    found = status()
    if not found.self_hosted:
        return
    if found.active:
        names = ", ".join(found.modules.names()) if found.modules is not None else ""
        log.info("installation activated: modules %s, %s seats", names, found.seats)
    else:
        log.warning("installation read-only: %s", found.reason)
