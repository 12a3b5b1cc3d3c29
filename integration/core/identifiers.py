"""Polish identifiers: NIP (tax id) and PESEL (personal id), validated by their checksums."""

from __future__ import annotations

import datetime as dt
import re

_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
_SEPARATORS = re.compile(r"[\s-]")
# KSeF's format: the tax-office prefix never starts with 0 nor has 00 in places 2-3.
_NIP_FORMAT = re.compile(r"[1-9]((\d[1-9])|([1-9]\d))\d{7}")
# PESEL month offsets encode the century of birth.
_CENTURY_BY_OFFSET = {80: 1800, 0: 1900, 20: 2000, 40: 2100, 60: 2200}


class InvalidIdentifier(ValueError):
    """The value is not a valid identifier; the message says why, for a person to read."""


def normalize_nip(value: str) -> str:
    """Return the 10-digit NIP or raise :class:`InvalidIdentifier`.

    Dashes and spaces are ignored (``123-456-32-18``); the check digit is verified.
    """
    digits = _SEPARATORS.sub("", value or "")
    if not re.fullmatch(r"\d{10}", digits):
        raise InvalidIdentifier("a NIP has exactly 10 digits")
    if not _NIP_FORMAT.fullmatch(digits):
        raise InvalidIdentifier("no NIP starts with 0 or has 00 as its 2nd and 3rd digits")
    check = sum(int(d) * w for d, w in zip(digits, _NIP_WEIGHTS, strict=False)) % 11
    if check == 10 or check != int(digits[9]):
        raise InvalidIdentifier("the NIP check digit does not match; check for a typo")
    return digits


def normalize_pesel(value: str) -> str:
    """Return the 11-digit PESEL or raise :class:`InvalidIdentifier` (checksum and birth date)."""
    digits = _SEPARATORS.sub("", value or "")
    if not re.fullmatch(r"\d{11}", digits):
        raise InvalidIdentifier("a PESEL has exactly 11 digits")
    total = sum(int(d) * w for d, w in zip(digits, _PESEL_WEIGHTS, strict=False))
    if (10 - total % 10) % 10 != int(digits[10]):
        raise InvalidIdentifier("the PESEL check digit does not match; check for a typo")
    year, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    offset = (month - 1) // 20 * 20
    century = _CENTURY_BY_OFFSET.get(offset)
    if century is None or not _is_date(century + year, month - offset, day):
        raise InvalidIdentifier("the PESEL does not encode a valid date of birth")
    return digits


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def nip_check_digit(first_nine: str) -> int | None:
    """The check digit for nine NIP digits, or None when no valid NIP starts with them."""
    check = sum(int(d) * w for d, w in zip(first_nine, _NIP_WEIGHTS, strict=True)) % 11
    return None if check == 10 else check


def pesel_check_digit(first_ten: str) -> int:
    total = sum(int(d) * w for d, w in zip(first_ten, _PESEL_WEIGHTS, strict=True))
    return (10 - total % 10) % 10
