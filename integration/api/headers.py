"""Security headers of every answer (flask-talisman), and no caching of what is personal.

The CSP admits scripts and styles from the service itself only (no inline code), no framing,
no plugins and forms posting back here. Every answer but the static files is ``no-store``:
pages and API answers show a signed-in person's data, and documents are invoices and UPOs.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()"}
CACHEABLE_ENDPOINTS = frozenset({"web.static"})


def init_app(app: Flask, *, secure_cookie: bool) -> None:
    """Talisman's headers; HSTS and an HTTPS redirect only where the cookie is secure."""
    Talisman(
        app,
        force_https=secure_cookie,
        strict_transport_security=secure_cookie,
        session_cookie_secure=secure_cookie,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
    )

    @app.after_request
    def _no_store(response: Response) -> Response:
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
