"""Sandbox cryptography: its own keys and certificates, OAEP, AES-CBC, hashes, checksums."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

USAGES = ("KsefTokenEncryption", "SymmetricKeyEncryption")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


def self_signed(
    attributes: list[x509.NameAttribute[str]], now: dt.datetime, days: int
) -> tuple[bytes, x509.Certificate]:
    """An RSA-2048 key (PKCS#8 PEM) and a self-signed certificate valid from yesterday."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(attributes)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, cert


def new_key_pair(usage: str, now: dt.datetime) -> tuple[bytes, bytes]:
    """A key and certificate for one usage; returns (private PKCS#8 PEM, cert DER)."""
    pem, cert = self_signed(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Ministerstwo Finansów - {usage}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ministerstwo Finansów"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ],
        now,
        days=3650,
    )
    return pem, cert.public_bytes(serialization.Encoding.DER)


def public_key_id(cert_der: bytes) -> str:
    """b64 SHA-256 of the DER SubjectPublicKeyInfo."""
    cert = x509.load_der_x509_certificate(cert_der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256_b64(spki)


def rsa_oaep_decrypt(private_pem: bytes, ciphertext: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.decrypt(
        ciphertext, OAEP(mgf=MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CBC with PKCS#7; ValueError when the padding or length is wrong."""
    if len(data) == 0 or len(data) % 16:
        raise ValueError("ciphertext length is not a multiple of the block size")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def crc8(data: bytes) -> int:
    """CRC-8, polynomial 0x07, init 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def reference_number(kind: str, when: dt.datetime) -> str:
    """``yyyyMMdd-TT-XXXXXXXXXX-XXXXXXXXXX-CC`` with a CRC-8 over the first 33 characters."""
    body = f"{when:%Y%m%d}-{kind}-{secrets.token_hex(5).upper()}-{secrets.token_hex(5).upper()}"
    return f"{body}-{crc8(body.encode()):02X}"


def ksef_number(seller_nip: str, when: dt.datetime) -> str:
    """``NIP-YYYYMMDD-HHHHHHHHHHHH-CC``: CRC-8 over the first 32 characters."""
    body = f"{seller_nip}-{when:%Y%m%d}-{secrets.token_hex(6).upper()}"
    return f"{body}-{crc8(body.encode()):02X}"


def valid_nip(value: str) -> bool:
    if len(value) != 10 or not value.isdigit():
        return False
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(value, weights, strict=False)) % 11
    return check != 10 and check == int(value[9])


def valid_pesel(value: str) -> bool:
    if len(value) != 11 or not value.isdigit():
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    total = sum(int(d) * w for d, w in zip(value, weights, strict=False))
    return (10 - total % 10) % 10 == int(value[10])


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
