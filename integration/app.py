"""The application factory: extensions, blueprints, error handlers and CLI."""

from __future__ import annotations

import http
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import fields as ma_fields
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from integration import cli, models
from integration.accounts import guards
from integration.accounts.actor import SCOPE_DESCRIPTIONS
from integration.api import access, headers, hygiene, idempotency, oauth, problems, throttle
from integration.api import audit as api_audit
from integration.api import credentials as api_credentials
from integration.api import invoices as api_invoices
from integration.api import licensing as api_licensing
from integration.api import masterdata as api_masterdata
from integration.api import permissions as api_permissions
from integration.api import quota as api_quota
from integration.api import resources as api_resources
from integration.api import system as api_system
from integration.api.hygiene import STORABLE_TEXT
from integration.api.schemas import ProblemSchema
from integration.core import i18n
from integration.core.appctx import register_settings
from integration.core.db import configure_sqlite, db, engine_options
from integration.core.redis import connect
from integration.core.settings import Settings
from integration.jobs import JobRuntime, install_commit_hooks
from integration.jobs.runtime import register_runtime
from integration.ksef import runtime as ksef_runtime
from integration.ksef.client import KsefClient
from integration.ksef.transport import KsefHttp, Transport
from integration.licensing import installation
from integration.licensing import service as licensing
from integration.web import views as web_views

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


_RETRIED = "delegat.retried"


class _App(Flask):
    """Flask, where a read that lost its database connection is tried once more."""

    def handle_user_exception(self, e: Exception) -> Any:
        if (
            isinstance(e, DBAPIError)
            and problems.lost_connection(e)
            and request.method in ("GET", "HEAD")
            and not request.environ.get(_RETRIED)
        ):
            request.environ[_RETRIED] = True
            log.warning("database connection lost during a read; trying it once more")
            db.session.rollback()
            db.session.remove()
            request.environ.pop("delegat.actor", None)
            try:
                again = super().preprocess_request()
                return again if again is not None else self.dispatch_request()
            except Exception as second:  # answered as the first would have been
                return super().handle_user_exception(second)
        return super().handle_user_exception(e)


class _Api(Api):  # type: ignore[misc]
    """flask-smorest, with every error documented as what it is: RFC 9457 problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "An RFC 9457 problem", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def _storable_text(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """Every text field says what hygiene refuses (NUL, which no database stores); an amount
    served as a string says so (and is taken as a string or a number)."""
    if isinstance(field, ma_fields.String) and "pattern" not in kwargs.get("ret", {}):
        return {"pattern": STORABLE_TEXT}
    if isinstance(field, ma_fields.Decimal) and field.as_string:
        return {"type": "string" if field.dump_only else ["string", "number"], "format": "decimal"}
    return {}


def create_app(
    settings: Settings | None = None, *, ksef_transport: Transport | None = None
) -> Flask:
    """Build the service. Without ``settings`` they are read from the environment.

    ``ksef_transport`` replaces the network for KSeF calls (tests mount the sandbox there).
    """
    settings = settings or Settings.from_env(os.environ)
    app = _App(__name__, static_folder=None)
    app.url_map.converters["int"] = hygiene.IdConverter
    if settings.trusted_proxies:  # the caller's address (throttling, audit) is the proxy's word
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    secret_key = settings.secret_key
    if not secret_key:
        log.warning("DELEGAT_SECRET_KEY is not set; sessions will not survive a restart")
        secret_key = secrets.token_urlsafe(32)
    app.config.update(
        SECRET_KEY=secret_key,
        TESTING=settings.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        API_TITLE="Delegat",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "KSeF 2.0 for accounting bureaus and their clients."},
            "security": [{"bearer": []}, {"session": []}],
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "oauth2",
                        "flows": {
                            "clientCredentials": {
                                "tokenUrl": "/oauth/token",
                                "scopes": dict(sorted(SCOPE_DESCRIPTIONS.items())),
                            }
                        },
                    },
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
        },
    )
    register_settings(app.extensions, settings)
    i18n.init_app(app)
    assert models.__all__  # every table is known before migrations or the ORM are used

    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    with app.app_context():
        for engine in db.engines.values():
            configure_sqlite(engine)

    connection = connect(settings.redis_url) if settings.redis_url else None
    register_runtime(app.extensions, JobRuntime(connection=connection))
    install_commit_hooks()
    guards.register(licensing.guard_client_writable)
    ksef_runtime.register(
        app.extensions, KsefClient(KsefHttp(settings.ksef_base_url, transport=ksef_transport))
    )

    oauth.init_app(app, settings.access_token_ttl_seconds)
    throttle.init_app(app, settings.redis_url)
    headers.init_app(app, secure_cookie=settings.session_cookie_secure)
    api = _Api(app, spec_kwargs={"extra_plugins": [idempotency.PostsTakeIdempotencyKeys()]})
    api.ma_plugin.converter.add_attribute_function(_storable_text)
    app.before_request(access.enforce)
    app.before_request(hygiene.reject_unstorable_text)
    idempotency.init_app(app)
    api.register_blueprint(api_resources.blp)
    api.register_blueprint(api_system.blp)
    api.register_blueprint(api_licensing.blp)
    api.register_blueprint(api_credentials.blp)
    api.register_blueprint(api_invoices.blp)
    api.register_blueprint(api_quota.blp)
    api.register_blueprint(api_permissions.blp)
    api.register_blueprint(api_masterdata.blp)
    api.register_blueprint(api_audit.blp)
    app.register_blueprint(web_views.bp)
    problems.register(app)

    cli.register(app)
    if settings.platform_verify_key:  # a self-hosted installation says at once how it stands
        with app.app_context():
            try:
                installation.report()
            except SQLAlchemyError:
                log.warning("installation not checked: the database is not migrated yet")
    return app
