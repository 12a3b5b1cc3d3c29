"""Effective limits, and the TEST-only switches of the rate limits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from integration.ksef_sandbox.common import body, need, store
from integration.ksef_sandbox.errors import validation
from integration.ksef_sandbox.limits import PRODUCTION, RateLimiter
from integration.ksef_sandbox.security import caller

bp = Blueprint("sandbox_limits", __name__)


def _limiter() -> RateLimiter:
    value = current_app.extensions["ksef_sandbox.limiter"]
    assert isinstance(value, RateLimiter)
    return value


def _context() -> str:
    with store().session() as s:
        return caller(s).context_value


@bp.get("/rate-limits")
def rate_limits() -> Any:
    return _limiter().effective(_context())


@bp.get("/limits/context")
def context_limits() -> Any:
    _context()
    session = {
        "maxInvoiceSizeInMB": 1,
        "maxInvoiceWithAttachmentSizeInMB": 3,
        "maxInvoices": 10_000,
    }
    return {"onlineSession": session, "batchSession": dict(session)}


@bp.get("/limits/subject")
def subject_limits() -> Any:
    _context()
    return {"enrollment": {"maxEnrollments": 300}, "certificate": {"maxCertificates": 100}}


@bp.post("/testdata/rate-limits")
def set_rate_limits() -> Response:
    context = _context()
    limits = need(body(), "rateLimits", dict)
    table: dict[str, tuple[int, int, int]] = {}
    for group in PRODUCTION:
        values = limits.get(group)
        if not isinstance(values, dict):
            raise validation(f"rateLimits.{group} is required.")
        try:
            table[group] = (
                int(values["perSecond"]),
                int(values["perMinute"]),
                int(values["perHour"]),
            )
        except (KeyError, TypeError, ValueError):
            raise validation(f"rateLimits.{group} needs perSecond, perMinute, perHour.") from None
    _limiter().overrides[context] = table
    return Response(status=200)


@bp.delete("/testdata/rate-limits")
def reset_rate_limits() -> Response:
    _limiter().overrides.pop(_context(), None)
    return Response(status=200)


@bp.post("/testdata/rate-limits/production")
def production_rate_limits() -> Response:
    _limiter().overrides[_context()] = dict(PRODUCTION)
    return Response(status=200)
