"""Helpers shared by the sandbox's blueprints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, request

from integration.ksef_sandbox.errors import KsefError, validation
from integration.ksef_sandbox.state import Store


def store() -> Store:
    value = current_app.extensions["ksef_sandbox.store"]
    assert isinstance(value, Store)
    return value


def config() -> Any:
    return current_app.extensions["ksef_sandbox.config"]


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise KsefError(
            21405, "Błąd walidacji danych wejściowych.", ["Request body must be a JSON object."]
        )
    return data


def need(data: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    value = data.get(key)
    if value is None or not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise validation(f"'{key}' is required and must be {getattr(kind, '__name__', kind)}.")
    return value


def page_size(default: int, low: int, high: int) -> int:
    raw = request.args.get("pageSize", str(default))
    try:
        size = int(raw)
    except ValueError:
        raise validation("pageSize must be an integer.") from None
    if not low <= size <= high:
        raise validation(f"pageSize must be between {low} and {high}.")
    return size


def page_offset() -> int:
    try:
        offset = int(request.args.get("pageOffset", "0"))
    except ValueError:
        raise validation("pageOffset must be an integer.") from None
    if offset < 0:
        raise validation("pageOffset must not be negative.")
    return offset


def continuation_offset() -> int:
    token = request.headers.get("x-continuation-token")
    if not token:
        return 0
    if not token.isdigit():
        raise KsefError(21418, "Przekazany token kontynuacji ma nieprawidłowy format.")
    return int(token)


def status(
    code: int,
    description: str,
    details: list[str] | None = None,
    extensions: dict[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "description": description}
    if details:
        out["details"] = details
    if extensions:
        out["extensions"] = extensions
    return out
