"""What the OpenAPI document says of bodies that are files, and of checks beyond the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Blueprint

F = TypeVar("F", bound=Callable[..., Any])
_BINARY = {"type": "string", "format": "binary"}


def file_body(description: str, *content_types: str) -> Callable[[F], F]:
    """The request's body is a file (an invoice, a ZIP, a seal): required, of these types."""
    body = {
        "required": True,
        "description": description,
        "content": {content_type: {"schema": _BINARY} for content_type in content_types},
    }
    return Blueprint.doc(requestBody=body)  # type: ignore[no-any-return]


def file_answer(description: str, *content_types: str, status: str = "200") -> Callable[[F], F]:
    """The answer is a file of one of these types."""
    answer = {
        "description": description,
        "content": {content_type: {"schema": _BINARY} for content_type in content_types},
    }
    return Blueprint.doc(responses={status: answer})  # type: ignore[no-any-return]


def checked_beyond_the_schema(*checks: str) -> Callable[[F], F]:
    """The server checks more than JSON Schema can say (a NIP's checksum, a file's content,
    a one-time code): schema-valid input may still be refused with 422, naming the field."""
    return Blueprint.doc(**{"x-checked-beyond-schema": list(checks)})  # type: ignore[no-any-return]
