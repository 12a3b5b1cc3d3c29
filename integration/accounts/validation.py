"""Input checks of the accounts domain, each failing with the name of the field."""

from __future__ import annotations

import re

from integration.core.errors import Text, ValidationFailed
from integration.core.identifiers import InvalidIdentifier, normalize_nip, normalize_pesel

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def nip(value: str, field: str = "nip") -> str:
    try:
        return normalize_nip(value)
    except InvalidIdentifier as exc:
        raise ValidationFailed.single(field, str(exc)) from None


def pesel(value: str | None, field: str = "pesel") -> str | None:
    if value is None or value == "":
        return None
    try:
        return normalize_pesel(value)
    except InvalidIdentifier as exc:
        raise ValidationFailed.single(field, str(exc)) from None


def email(value: str, field: str = "email") -> str:
    cleaned = (value or "").strip().lower()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise ValidationFailed.single(field, "not a valid e-mail address")
    return cleaned


def text(value: str, field: str, *, max_length: int = 200) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationFailed.single(field, "must not be empty")
    if len(cleaned) > max_length:
        raise ValidationFailed.single(
            field, Text("must be at most %(most)d characters", most=max_length)
        )
    return cleaned
