"""OAuth2 for machine clients: Authlib's server (client-credentials) and bearer validation.

Tokens are random strings; the database keeps only their SHA-256.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask
from sqlalchemy import select

from integration.accounts.actor import SCOPES
from integration.accounts.models import ApiClient, ApiToken
from integration.accounts.secrets import token_digest, verify_password
from integration.core.clock import now
from integration.core.db import transaction


class _Client(ClientMixin):  # type: ignore[misc]
    """Authlib's view of an :class:`ApiClient`."""

    def __init__(self, row: ApiClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The scopes asked for, or all the client holds; asking for more is ``invalid_scope``."""
        allowed = self.row.scope_set
        if not scope:
            return " ".join(sorted(allowed))
        asked = set(scope.split())
        if not asked <= allowed:
            raise InvalidScopeError(
                description=f"this client does not hold {' '.join(sorted(asked - allowed))}"
            )
        return " ".join(sorted(asked))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_password(self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Token(TokenMixin):  # type: ignore[misc]
    def __init__(self, row: ApiToken) -> None:
        self.row = row

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.row.api_client.client_id)

    def get_scope(self) -> str:
        return self.row.scopes

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= now()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.api_client.revoked_at is not None


def _query_client(client_id: str) -> _Client | None:
    with transaction() as s:
        row = s.scalar(
            select(ApiClient).where(
                ApiClient.client_id == client_id, ApiClient.revoked_at.is_(None)
            )
        )
    return _Client(row) if row is not None else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: _Client = request.client
    issued = now()
    with transaction() as s:
        s.add(
            ApiToken(
                token_hash=token_digest(token["access_token"]),
                api_client_id=client.row.id,
                scopes=token.get("scope", ""),
                issued_at=issued,
                expires_at=issued + timedelta(seconds=int(token["expires_in"])),
            )
        )


class _Validator(BearerTokenValidator):  # type: ignore[misc]
    def authenticate_token(self, token_string: str) -> _Token | None:
        with transaction() as s:
            row = s.scalar(
                select(ApiToken).where(ApiToken.token_hash == token_digest(token_string))
            )
        return _Token(row) if row is not None else None


authorization = AuthorizationServer()
require_oauth = ResourceProtector()


def init_app(app: Flask, access_token_ttl: int) -> None:
    app.config["OAUTH2_SCOPES_SUPPORTED"] = sorted(SCOPES)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": access_token_ttl}
    authorization.init_app(app, query_client=_query_client, save_token=_save_token)
    authorization.register_grant(grants.ClientCredentialsGrant)
    if "bearer" not in require_oauth._token_validators:
        require_oauth.register_token_validator(_Validator())
