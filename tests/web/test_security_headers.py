"""Security headers on pages, API answers and documents; no inline code in any template."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from integration.core.settings import Settings
from tests.conftest import World, signed_in

TEMPLATES = Path(__file__).resolve().parents[2] / "integration" / "web" / "templates"


def _csp(header: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1]
        for part in header.split(";")
        if part.strip()
    }


def test_pages_carry_a_strict_csp_and_the_framing_sniffing_and_referrer_headers(
    app: Flask,
) -> None:
    r = app.test_client().get("/login")
    assert r.status_code == 200
    csp = _csp(r.headers["Content-Security-Policy"])
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in r.headers  # the cookie is not secure here


def test_the_stylesheet_is_served_from_the_service_and_may_be_cached(app: Flask) -> None:
    page = app.test_client().get("/login")
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert href is not None
    css = app.test_client().get(href.group(1))
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert "no-store" not in css.headers.get("Cache-Control", "")
    css.close()


def test_signed_in_api_answers_and_documents_are_not_stored(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    for url in (
        "/api/v1/me",
        f"/api/v1/clients/{w.client_ids[0]}/invoices/archive",
        f"/clients/{w.client_ids[0]}/invoices",
    ):
        r = http.get(url)
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == "no-store", url
        assert r.headers["X-Content-Type-Options"] == "nosniff", url


def test_with_a_secure_cookie_https_is_enforced_and_hsts_is_sent(
    settings: Settings, make_app: Callable[..., Flask]
) -> None:
    secure = make_app(settings.replace(session_cookie_secure=True))
    http = secure.test_client()
    plain = http.get("/login")
    assert plain.status_code in (301, 302)
    assert plain.headers["Location"].startswith("https://")
    r = http.get("/login", base_url="https://delegat.example")
    assert r.status_code == 200
    assert "max-age=" in r.headers["Strict-Transport-Security"]


def test_no_template_carries_inline_script_or_style() -> None:
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", text):
            offenders.append(template.name)
    assert offenders == []
