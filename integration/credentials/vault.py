"""Authenticated encryption of secrets at rest (Fernet: AES-CBC + HMAC-SHA256).

``DELEGAT_CREDENTIAL_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys, newest
first: new secrets are encrypted with the first, old ones still decrypt with any, and
:func:`rotate` re-encrypts everything with the first.
"""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from integration.core.appctx import current_settings
from integration.core.errors import DomainError


class VaultNotConfigured(DomainError):
    status, slug, title = 409, "vault-not-configured", "Credentials cannot be stored yet"


class VaultDamaged(Exception):
    """A stored secret does not decrypt with any configured key."""


def _fernet() -> MultiFernet:
    configured = current_settings().credential_encryption_key
    if not configured:
        raise VaultNotConfigured("set DELEGAT_CREDENTIAL_ENCRYPTION_KEY (a Fernet key) first")
    return MultiFernet([Fernet(k.strip().encode()) for k in configured.split(",") if k.strip()])


def seal(secret: bytes) -> bytes:
    return _fernet().encrypt(secret)


def unseal(ciphertext: bytes) -> bytes:
    try:
        return _fernet().decrypt(ciphertext)
    except InvalidToken:
        raise VaultDamaged(
            "a stored credential does not decrypt with the configured keys"
        ) from None


def rotate(ciphertext: bytes) -> bytes:
    return _fernet().rotate(ciphertext)


def fingerprint(secret: bytes) -> str:
    """A short, non-reversible label for showing which secret is stored."""
    return hashlib.sha256(secret).hexdigest()[:16]
