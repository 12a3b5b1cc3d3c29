"""The sandbox application: KSeF 2.0 under /v2, its own state, keys and processor."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, Response, current_app, request

from integration.ksef_sandbox import crypto, errors
from integration.ksef_sandbox.api_auth import bp as auth_bp
from integration.ksef_sandbox.api_limits import bp as limits_bp
from integration.ksef_sandbox.api_permissions import bp as permissions_bp
from integration.ksef_sandbox.api_sessions import bp as sessions_bp
from integration.ksef_sandbox.batch import batch_bp, storage_bp
from integration.ksef_sandbox.limits import Faults, RateLimiter, group_of
from integration.ksef_sandbox.processing import Processor
from integration.ksef_sandbox.security import context_of_request, jwt_secret
from integration.ksef_sandbox.state import KeyPair, Store, utcnow
from integration.ksef_sandbox.verification import bp as verification_bp

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
    rate_limits: bool = False
    export_part_bytes: int = 50_000_000
    faults: Faults = field(default_factory=Faults)
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
    limiter = RateLimiter(enabled_globally=config.rate_limits)
    app.extensions["ksef_sandbox.limiter"] = limiter
    app.extensions["ksef_sandbox.faults"] = config.faults
    for bp in (auth_bp, sessions_bp, permissions_bp, limits_bp, batch_bp):
        app.register_blueprint(bp, url_prefix="/v2")
    app.register_blueprint(storage_bp, url_prefix="/storage")
    app.register_blueprint(verification_bp)  # KOD I's page, at the root as KSeF's QR host
    errors.register(app)
    app.before_request(_before)
    app.after_request(_after)
    return app


def _before() -> Response | None:
    faults: Faults = current_app.extensions["ksef_sandbox.faults"]
    if not request.path.startswith("/v2/"):
        return None
    if faults.latency_seconds:
        time.sleep(faults.latency_seconds)
    if faults.roll(faults.error_rate):
        return Response(status=503, response="Service Unavailable (injected)")
    limiter: RateLimiter = current_app.extensions["ksef_sandbox.limiter"]
    rule = request.url_rule.rule if request.url_rule else request.path
    wait = limiter.check(
        context_of_request(), request.remote_addr or "", group_of(request.method, rule)
    )
    if wait is not None:
        raise errors.ProblemError(
            429, f"Przekroczono limit żądań; ponów za {wait} s.", retry_after=wait
        )
    return None


def _after(response: Response) -> Response:
    faults: Faults = current_app.extensions["ksef_sandbox.faults"]
    if request.path.startswith("/v2/") and faults.roll(faults.drop_rate):
        # the work is done and committed; the caller never learns it
        return Response(status=504, response="Gateway Timeout (injected)")
    return response
