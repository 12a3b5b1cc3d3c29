"""Refuse text no database can store (NUL, lone surrogates) before it reaches a service."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# Ids are 32-bit in the schema; a larger number cannot name anything.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` bounded to the id range, so that huge numbers are a plain 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk(node: Any) -> bool:
    if isinstance(node, str):
        return _bad_text(node)
    if isinstance(node, dict):
        return any(_bad_text(str(k)) or _walk(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_walk(v) for v in node)
    return False


def reject_unstorable_text() -> None:
    values = [*request.args.values(), *request.form.values()]
    if any(_bad_text(v) for v in values) or (
        request.is_json and _walk(request.get_json(silent=True))
    ):
        raise BadRequest("text may not contain NUL characters or invalid Unicode")
