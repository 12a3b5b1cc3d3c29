"""Typed, frozen settings read from ``DELEGAT_*`` environment variables.

Unknown ``DELEGAT_*`` keys are an error: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "DELEGAT_"
DEFAULT_INSTANCE_DIR = Path("instance")
# Keys read by the test suite and the launcher, not by the service itself.
_FOREIGN_KEYS = frozenset(
    {"DELEGAT_TEST_DATABASE_URL", "DELEGAT_TEST_REDIS_URL", "DELEGAT_TEST_KSEF_REFERENCE"}
)


class SettingsError(ValueError):
    """A ``DELEGAT_*`` variable is unknown or its value cannot be used."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service is configured with. Defaults are the embedded ones."""

    database_url: str = f"sqlite:///{(DEFAULT_INSTANCE_DIR / 'delegat.db').resolve()}"
    # None: the launcher starts an embedded Redis-compatible server and sets this.
    redis_url: str | None = None
    ksef_base_url: str = "http://127.0.0.1:8765/v2"
    # Where KOD I points (None: production, demo or test by the KSeF in use, else its root)
    ksef_qr_base_url: str | None = None
    secret_key: str | None = None
    credential_encryption_key: str | None = None
    # HMAC key of licence numbers (platform only); falls back to the secret key
    licence_secret: str | None = None
    # Ed25519 seed (base64) that signs registration keys (platform only)
    platform_signing_key: str | None = None
    # Ed25519 public key (base64) with which an installation verifies its registration key;
    # set, it makes this a self-hosted installation that works as its registration key allows
    platform_verify_key: str | None = None
    # A self-hosted installation: its licensee, the modules and seats it asks for, and the
    # registration key the platform's control panel gave for them
    licensee_nip: str | None = None
    installation_modules: str = ""
    installation_seats: int = 0
    registration_key: str | None = None
    mail_backend: str = "outbox"
    # The demo's and development's mail page (/mail) showing the outbox, links included
    show_outbox: bool = False
    mail_sender: str = "Delegat <no-reply@delegat.local>"
    # The mail server of the smtp backend: STARTTLS on by default; the CA file verifies a
    # server whose certificate no public authority signed
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ca_file: str | None = None
    smtp_timeout_seconds: int = 30
    public_base_url: str = "http://127.0.0.1:8000"
    max_request_bytes: int = 8 * 1024 * 1024
    access_token_ttl_seconds: int = 3600
    password_setup_ttl_hours: int = 72
    session_cookie_secure: bool = False
    # Reverse proxies in front of the service whose X-Forwarded-For/-Proto are trusted
    trusted_proxies: int = 0
    log_level: str = "INFO"
    testing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read settings from an environment mapping (``os.environ`` in production)."""
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        unknown: list[str] = []
        for key, raw in environ.items():
            if not key.startswith(PREFIX) or key in _FOREIGN_KEYS:
                continue
            name = key[len(PREFIX) :].lower()
            if name not in known:
                unknown.append(key)
                continue
            values[name] = _convert(key, raw, hints[name])
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (tests and the launcher use it)."""
        return dataclasses.replace(self, **changes)


def _convert(key: str, raw: str, hint: Any) -> Any:
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if optional and raw == "":
        return None
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{key} must be a boolean (true/false), got {raw!r}")
    if hint is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key} must be an integer, got {raw!r}") from None
    return raw
