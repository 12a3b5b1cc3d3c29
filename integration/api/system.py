"""Health check and the OAuth2 token endpoint."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response
from flask_smorest import Blueprint

from integration.api.access import public
from integration.api.hygiene import STORABLE_TEXT
from integration.api.oauth import authorization
from integration.api.schemas import HealthSchema
from integration.core.db import db
from integration.core.redis import ping
from integration.jobs.runtime import current_runtime

blp = Blueprint("system", __name__, description="Health and OAuth2")


def _database_ok() -> bool:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return False
    return True


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="a dependency is unreachable")
@public()
def healthz() -> tuple[dict[str, Any], int]:
    """Reachability of the database and Redis."""
    runtime = current_runtime()
    database = _database_ok()
    redis = runtime.connection is not None and ping(runtime.connection)
    healthy = database and redis
    return {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "redis": redis,
    }, 200 if healthy else 503


_TOKEN = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
    },
}
_OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


@blp.route("/oauth/token", methods=["POST"])
@blp.doc(
    security=[],
    summary="Issue an access token (client-credentials grant, RFC 6749 4.4)",
    requestBody={
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "pattern": STORABLE_TEXT},
                        "client_id": {"type": "string", "pattern": STORABLE_TEXT},
                        "client_secret": {"type": "string", "pattern": STORABLE_TEXT},
                    },
                }
            }
        }
    },
    responses={
        "200": {
            "description": "an access token",
            "content": {"application/json": {"schema": _TOKEN}},
        },
        "400": {
            "description": "RFC 6749 error (invalid_request, invalid_scope, ...)",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
        "401": {
            "description": "invalid client",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
    },
)
@public()
def issue_token() -> Response:
    response: Response = authorization.create_token_response()
    return response
