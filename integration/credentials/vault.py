"""Authenticated encryption of secrets at rest (Fernet: AES-CBC + HMAC-SHA256).

``DELEGAT_CREDENTIAL_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys, newest
first: new secrets are encrypted with the first, old ones still decrypt with any, and
:func:`rotate` re-encrypts everything with the first.
"""

from __future__ import annotations

import hashlib

from integration.core import secretbox
from integration.core.errors import DomainError


class VaultNotConfigured(DomainError):
    status, slug, title = 409, "vault-not-configured", "Credentials cannot be stored yet"


class VaultDamaged(Exception):
    """A stored secret does not decrypt with any configured key."""


def seal(secret: bytes) -> bytes:
    try:
        return secretbox.seal(secret)
    except secretbox.NoKey as exc:
        raise VaultNotConfigured(str(exc)) from None


def unseal(ciphertext: bytes) -> bytes:
    try:
        return secretbox.unseal(ciphertext)
    except secretbox.Damaged:
        raise VaultDamaged(
            "a stored credential does not decrypt with the configured keys"
        ) from None
    except secretbox.NoKey as exc:
        raise VaultNotConfigured(str(exc)) from None


def rotate(ciphertext: bytes) -> bytes:
    return secretbox.rotate(ciphertext)


def fingerprint(secret: bytes) -> str:
    """A short, non-reversible label for showing which secret is stored."""
    return hashlib.sha256(secret).hexdigest()[:16]
