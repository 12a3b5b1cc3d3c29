"""Licence numbers: 29 letters and digits, printed in groups of five with dashes
(``XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXX``) and entered with or without them.

Layout of the 145 bits (big-endian), written in Crockford's base-32 (digits and capital
letters without I, L, O, U, so that a number read aloud cannot be misheard):

    version 4 | product 4 | plan 4 | modules 8 | seats 12 | serial 32 | kind 2 | spare 9 |
    MAC 60 | CRC-10

The CRC catches every single mistyped symbol and every swap of neighbours at once, before
anything is looked up; the MAC (HMAC-SHA256 with the platform's licence secret) makes a
number that was edited to claim more seats or modules invalid even if its CRC is right.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
# Symbols people confuse with others are read as what they were meant to be.
_DECODE |= {"O": 0, "I": 1, "L": 1}
LENGTH = 29
GROUP = 5
PAYLOAD_BITS = 75
MAC_BITS = 60
PRODUCT_DELEGAT = 1
VERSION = 2
_CRC_POLY = 0x233  # x^10 + x^9 + x^5 + x^4 + x + 1 (CRC-10)


class Module(enum.IntFlag):
    KSEF_SENDING = 1
    COST_SYNC = 2
    CLIENT_SELF_SERVICE = 4
    BATCH_SENDING = 8
    API_ACCESS = 16

    @classmethod
    def parse(cls, names: list[str]) -> Module:
        value = cls(0)
        for name in names:
            try:
                value |= cls[name.upper()]
            except KeyError:
                raise ValueError(f"unknown module {name!r}") from None
        return value

    def names(self) -> list[str]:
        return [m.name.lower() for m in Module if m in self and m.name]


class Plan(enum.IntEnum):
    START = 1
    BIURO = 2
    BIURO_PRO = 3
    ENTERPRISE = 4

    @property
    def modules(self) -> Module:
        return {
            Plan.START: Module.KSEF_SENDING | Module.COST_SYNC,
            Plan.BIURO: Module.KSEF_SENDING | Module.COST_SYNC | Module.CLIENT_SELF_SERVICE,
            Plan.BIURO_PRO: Module.KSEF_SENDING
            | Module.COST_SYNC
            | Module.CLIENT_SELF_SERVICE
            | Module.BATCH_SENDING,
            Plan.ENTERPRISE: Module.KSEF_SENDING
            | Module.COST_SYNC
            | Module.CLIENT_SELF_SERVICE
            | Module.BATCH_SENDING
            | Module.API_ACCESS,
        }[self]

    @property
    def trial_seats(self) -> int:
        return {Plan.START: 5, Plan.BIURO: 20, Plan.BIURO_PRO: 50, Plan.ENTERPRISE: 200}[self]


class Kind(enum.IntEnum):
    APPLICATION = 1  # perpetual
    SUPPORT = 2  # support and updates, one year from purchase


@dataclass(frozen=True)
class LicenceData:
    plan: Plan
    modules: Module
    seats: int
    serial: int
    kind: Kind
    product: int = PRODUCT_DELEGAT


class InvalidNumber(ValueError):
    """A number that cannot be a licence number; the message says what to do."""


def _cleaned(text: str) -> str:
    return re.sub(r"[\s\-]", "", text or "").upper()


def normalize(text: str) -> str:
    """Drop dashes and spaces, fold case; 29 symbols or InvalidNumber."""
    cleaned = _cleaned(text)
    if len(cleaned) != LENGTH:
        raise InvalidNumber(
            f"a licence number has {LENGTH} letters and digits; this one has {len(cleaned)}"
        )
    bad = sorted({c for c in cleaned if c not in _DECODE})
    if bad:
        raise InvalidNumber(f"a licence number cannot contain {', '.join(bad)}")
    return "".join(ALPHABET[_DECODE[c]] for c in cleaned)


def format_number(number: str) -> str:
    """The number as printed: groups of five symbols joined by dashes."""
    n = _cleaned(number)
    return "-".join(n[i : i + GROUP] for i in range(0, len(n), GROUP))


def _crc10(value: int, bits: int) -> int:
    crc = 0
    for i in range(bits - 1, -1, -1):
        bit = (value >> i) & 1
        top = (crc >> 9) & 1
        crc = (crc << 1) & 0x3FF
        if top ^ bit:
            crc ^= _CRC_POLY & 0x3FF
    return crc


def _mac(payload: int, secret: bytes) -> int:
    digest = hmac.new(secret, payload.to_bytes(10, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - MAC_BITS)


def encode(data: LicenceData, secret: bytes) -> str:
    if not 0 < data.seats < 4096:
        raise ValueError("seats must be between 1 and 4095")
    payload = VERSION
    for value, bits in (
        (data.product, 4),
        (int(data.plan), 4),
        (int(data.modules), 8),
        (data.seats, 12),
        (data.serial, 32),
        (int(data.kind), 2),
        (0, 9),
    ):
        if value >> bits:
            raise ValueError(f"{value} does not fit in {bits} bits")
        payload = (payload << bits) | value
    body = (payload << MAC_BITS) | _mac(payload, secret)
    full = (body << 10) | _crc10(body, PAYLOAD_BITS + MAC_BITS)
    symbols = []
    for _ in range(LENGTH):
        symbols.append(ALPHABET[full & 31])
        full >>= 5
    return format_number("".join(reversed(symbols)))


def decode(text: str, secret: bytes) -> LicenceData:
    """Decode and verify; InvalidNumber names a typo or a forged number."""
    number = normalize(text)
    full = 0
    for c in number:
        full = (full << 5) | _DECODE[c]
    body, crc = full >> 10, full & 0x3FF
    if _crc10(body, PAYLOAD_BITS + MAC_BITS) != crc:
        raise InvalidNumber(
            "the licence number contains a typo; compare it with your licence certificate"
        )
    payload, mac = body >> MAC_BITS, body & ((1 << MAC_BITS) - 1)
    if not hmac.compare_digest(_mac(payload, secret).to_bytes(8, "big"), mac.to_bytes(8, "big")):
        raise InvalidNumber("this licence number was not issued by Delegat")
    fields = []
    for bits in (9, 2, 32, 12, 8, 4, 4, 4):
        fields.append(payload & ((1 << bits) - 1))
        payload >>= bits
    _, kind, serial, seats, modules, plan, product, version = fields
    if version != VERSION or product != PRODUCT_DELEGAT:
        raise InvalidNumber("this licence number belongs to another product or version")
    return LicenceData(
        plan=Plan(plan),
        modules=Module(modules),
        seats=seats,
        serial=serial,
        kind=Kind(kind),
        product=product,
    )
