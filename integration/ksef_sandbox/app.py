"""The sandbox application: KSeF 2.0 under /v2, its own state, keys and processor."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask

from integration.ksef_sandbox import crypto, errors
from integration.ksef_sandbox.api_auth import bp as auth_bp
from integration.ksef_sandbox.api_permissions import bp as permissions_bp
from integration.ksef_sandbox.api_sessions import bp as sessions_bp
from integration.ksef_sandbox.processing import Processor
from integration.ksef_sandbox.security import jwt_secret
from integration.ksef_sandbox.state import KeyPair, Store, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves. Defaults imitate KSeF TEST."""

    database_url: str = "sqlite:///ksef-sandbox.db"
    # delay between acquisition and permanent storage, and the lag of the high-water mark
    permanent_storage_delay: dt.timedelta = dt.timedelta(seconds=2)
    hwm_lag: dt.timedelta = dt.timedelta(seconds=5)
    token_activation_delay: dt.timedelta = dt.timedelta(seconds=1)
    max_request_bytes: int = 8 * 1024 * 1024
    clock: Callable[[], dt.datetime] = field(default=utcnow)


def ensure_keys(store: Store) -> None:
    """On first start, one RSA-2048 key pair with a certificate per usage."""
    with store.session() as s:
        for usage in crypto.USAGES:
            if s.scalar(sa.select(KeyPair.id).where(KeyPair.usage == usage)) is None:
                now = store.now()
                pem, der = crypto.new_key_pair(usage, now)
                s.add(
                    KeyPair(
                        usage=usage,
                        private_pem=pem,
                        cert_der=der,
                        public_key_id=crypto.public_key_id(der),
                        valid_from=now - dt.timedelta(days=1),
                        valid_to=now + dt.timedelta(days=3650),
                    )
                )


def create_sandbox_app(config: SandboxConfig | None = None) -> Flask:
    config = config or SandboxConfig()
    app = Flask("ksef_sandbox", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = Store(config.database_url, clock=config.clock)
    ensure_keys(store)
    jwt_secret(store)  # load before any request holds a write transaction
    app.extensions["ksef_sandbox.store"] = store
    app.extensions["ksef_sandbox.config"] = config
    app.extensions["ksef_sandbox.processor"] = Processor(store, config.permanent_storage_delay)
    for bp in (auth_bp, sessions_bp, permissions_bp):
        app.register_blueprint(bp, url_prefix="/v2")
    errors.register(app)
    return app
