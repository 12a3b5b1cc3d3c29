"""KSeF cryptography, client side: RSA-OAEP SHA-256, AES-256-CBC/PKCS#7, SHA-256 digests."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


def rsa_oaep_encrypt(certificate_b64_der: str, data: bytes) -> bytes:
    """Encrypt with the public key of a KSeF certificate (b64 DER), OAEP SHA-256/MGF1-SHA-256."""
    cert = x509.load_der_x509_certificate(base64.b64decode(certificate_b64_der))
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("the KSeF certificate does not carry an RSA key")
    return key.encrypt(
        data, asym.OAEP(mgf=asym.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )


def encrypt_ksef_token(certificate_b64_der: str, token: str, timestamp_ms: int) -> str:
    return b64(rsa_oaep_encrypt(certificate_b64_der, f"{token}|{timestamp_ms}".encode()))


@dataclass(frozen=True)
class SessionKey:
    """A fresh AES-256 key and IV for one session or export."""

    key: bytes
    iv: bytes

    @classmethod
    def generate(cls) -> SessionKey:
        return cls(os.urandom(32), os.urandom(16))

    def encrypt(self, data: bytes) -> bytes:
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
