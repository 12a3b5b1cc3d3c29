"""One place that renders every error as RFC 9457 problem+json (or HTML for pages)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, current_app, json, render_template, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from integration.core import i18n
from integration.core.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://delegat.dev/problems/"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id() -> str:
    rid = request.environ.get("delegat.request_id")
    if rid is None:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.environ["delegat.request_id"] = rid
    return str(rid)


def _wants_html() -> bool:
    if request.path.startswith(("/api/", "/oauth/", "/healthz")):
        return False
    best = request.accept_mimetypes.best_match(["application/json", PROBLEM_JSON, "text/html"])
    return best == "text/html"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    detail = detail or title
    if isinstance(extensions.get("errors"), list):  # each message in the caller's language
        detail = _localised(detail, extensions["errors"])
        extensions["errors"] = [
            {**e, "message": i18n.translate(str(e.get("message", "")))}
            for e in extensions["errors"]
        ]
    else:
        detail = i18n.translate(detail)
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}{slug}" if slug != "about:blank" else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": request_id(),
        **extensions,
    }
    if _wants_html():
        html = render_template("error.html", problem=body)
        response = Response(html, status=status, mimetype="text/html")
    else:
        response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    response.headers["Content-Language"] = i18n.language()
    return response


def _localised(detail: str, errors: list[dict[str, Any]]) -> str:
    """The detail in the request's language: a summary of field errors is composed again of
    the translated messages; type and title stay as they are, for programs to match."""
    summary = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
    if errors and detail == summary:
        return "; ".join(
            f"{e.get('field')}: {i18n.translate(str(e.get('message', '')))}" for e in errors
        )
    return i18n.translate(detail)


def _webargs_errors(exc: HTTPException) -> list[dict[str, str]]:
    """Flatten webargs/marshmallow messages ({location: {field: [msg]}}) to a list."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or {}
    out: list[dict[str, str]] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            out.extend({"field": prefix or "body", "message": m} for m in node)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(f"{prefix}[{i}]", value)
        else:
            out.append({"field": prefix or "body", "message": str(node)})

    for location_messages in messages.values():
        walk("", location_messages)
    return out


def handle_domain_error(exc: DomainError) -> Response:
    return problem(
        exc.status, exc.slug, exc.title, exc.detail, headers=dict(exc.headers()), **exc.extensions
    )


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 429:
        return problem(
            429,
            "too-many-attempts",
            "Too many attempts",
            "too many failed attempts; wait the seconds Retry-After gives and try again",
        )
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if status == 422:
        errors = _webargs_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or exc.description
        return problem(
            422,
            "validation-failed",
            "The submitted data is not valid",
            detail,
            headers=headers,
            errors=errors,
        )
    if status == 400 and getattr(exc, "data", None):
        errors = _webargs_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or exc.description
        return problem(400, "about:blank", exc.name, detail, headers=headers)
    return problem(status, "about:blank", exc.name, exc.description, headers=headers)


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unexpected error (request %s)", request_id())
    if current_app.testing:
        raise exc
    return problem(
        500,
        "about:blank",
        "Internal Server Error",
        "Something went wrong on our side; quote the request id when reporting it.",
    )


def handle_database_unreachable(exc: DBAPIError) -> Response:
    """A dropped or refused database connection: the caller retries shortly (503), never 500."""
    if not lost_connection(exc):
        return handle_unexpected(exc)
    log.warning("database connection lost (request %s): %s", request_id(), type(exc.orig))
    return problem(
        503,
        "database-unavailable",
        "The database cannot be reached",
        "the service lost its database connection for a moment; nothing was saved, "
        "send the request again shortly",
        headers={"Retry-After": "2"},
    )


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection failing (not a refused statement)."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    )


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DBAPIError, handle_database_unreachable)
    app.register_error_handler(Exception, handle_unexpected)

    @app.after_request
    def _tag(response: Response) -> Response:
        response.headers["X-Request-Id"] = request_id()
        return response
