"""Authenticated encryption of data at rest (Fernet: AES-CBC + HMAC-SHA256).

``DELEGAT_CREDENTIAL_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys, newest
first: new data is encrypted with the first, old data still decrypts with any. The vault of
KSeF credentials and the mail outbox both keep their secrets this way.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from integration.core.appctx import current_settings


class NoKey(Exception):
    """No encryption key is configured."""


class Damaged(Exception):
    """Data does not decrypt with any configured key."""


def fernet() -> MultiFernet:
    configured = current_settings().credential_encryption_key
    keys = [k.strip() for k in (configured or "").split(",") if k.strip()]
    if not keys:
        raise NoKey("set DELEGAT_CREDENTIAL_ENCRYPTION_KEY (a Fernet key) first")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def seal(data: bytes) -> bytes:
    return fernet().encrypt(data)


def unseal(ciphertext: bytes) -> bytes:
    try:
        return fernet().decrypt(ciphertext)
    except InvalidToken:
        raise Damaged("the data does not decrypt with the configured keys") from None


def rotate(ciphertext: bytes) -> bytes:
    return fernet().rotate(ciphertext)
