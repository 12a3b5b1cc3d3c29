"""KSeF error bodies: ExceptionResponse (400) and problem+json (401/403/410/429)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class KsefError(Exception):
    """A synchronous 400 with a KSeF exception code."""

    def __init__(
        self, code: int, description: str, details: list[str] | None = None, status: int = 400
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.details, self.status = code, description, details, status


class ProblemError(Exception):
    """401/403/410/429 answered as application/problem+json."""

    TITLES = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        410: "Gone",
        429: "Too Many Requests",
    }

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        reason_code: str | None = None,
        security: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.reason_code, self.security, self.retry_after = reason_code, security, retry_after


def validation(message: str, *details: str) -> KsefError:
    """21405: input validation failed."""
    return KsefError(21405, "Błąd walidacji danych wejściowych.", [message, *details])


def _json(body: Any, status: int, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=mimetype)


def exception_response(err: KsefError) -> Response:
    trace = uuid.uuid4().hex
    if request.headers.get("X-Error-Format", "").lower() == "problem-details":
        return _json(
            {
                "title": "Bad Request",
                "status": err.status,
                "instance": request.path,
                "detail": err.description,
                "errors": [
                    {"code": err.code, "description": err.description, "details": err.details or []}
                ],
                "timestamp": _timestamp(),
                "traceId": trace,
            },
            err.status,
            "application/problem+json",
        )
    return _json(
        {
            "exception": {
                "exceptionDetailList": [
                    {
                        "exceptionCode": err.code,
                        "exceptionDescription": err.description,
                        "details": err.details,
                    }
                ],
                "serviceCode": f"00-{trace}-{uuid.uuid4().hex[:16]}-00",
                "serviceCtx": "srvSANDBOX",
                "serviceName": "ksef-sandbox",
                "timestamp": _timestamp(),
            }
        },
        err.status,
    )


def problem_response(err: ProblemError) -> Response:
    body: dict[str, Any] = {
        "title": ProblemError.TITLES.get(err.status, "Error"),
        "status": err.status,
        "detail": err.detail,
        "instance": request.path,
        "timestamp": _timestamp(),
        "traceId": uuid.uuid4().hex,
    }
    if err.status == 403:
        body["reasonCode"] = err.reason_code or "insufficient-resource-access"
        if err.security is not None:
            body["security"] = err.security
    if err.status == 429 and request.headers.get("X-Error-Format", "").lower() != "problem-details":
        response = _json(
            {"status": {"code": 429, "description": "Too Many Requests", "details": [err.detail]}},
            429,
        )
    else:
        response = _json(body, err.status, "application/problem+json")
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def register(app: Flask) -> None:
    app.register_error_handler(KsefError, exception_response)
    app.register_error_handler(ProblemError, problem_response)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status in ProblemError.TITLES:
            return problem_response(ProblemError(status, exc.description or exc.name))
        if status == 413:
            return exception_response(validation("Request body too large."))
        if status == 405:
            return exception_response(
                KsefError(21405, "Metoda niedozwolona.", [exc.name], status=405)
            )
        return exception_response(KsefError(21405, exc.name, [exc.description or ""]))
