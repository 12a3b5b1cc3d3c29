"""Refuse text no database can store (NUL, lone surrogates) before it reaches a service."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# Ids are 32-bit in the schema; a larger number cannot name anything.
MAX_ID = 2**31 - 1
# What the OpenAPI document says of every text field (a regular expression).
STORABLE_TEXT = "^[^\\x00]*$"


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


def reject_unstorable_text() -> Response | None:
    values = [*request.args.keys(), *request.args.values(), *request.form.values()]
    values += list(request.form.keys())
    if not any(_bad_text(v) for v in values) and not (
        request.is_json and _walk(request.get_json(silent=True))
    ):
        return None
    detail = "text may not contain NUL characters or invalid Unicode"
    if request.path == "/oauth/token":  # OAuth clients read RFC 6749 errors
        return Response(
            json.dumps({"error": "invalid_request", "error_description": detail}),
            status=400,
            mimetype="application/json",
        )
    raise BadRequest(detail)
