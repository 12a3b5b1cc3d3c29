"""Hostile input on every API endpoint of one's own tenant: a clear 4xx, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import World, signed_in

JUNK_QUERY = [
    ("page", "abc"),
    ("per_page", "-5"),
    ("q", "%' OR 1=1 --"),
    ("q", "x" * 5000),
    ("q", "\x00"),
    ("direction", "sideways"),
    ("state", "lost"),
    ("format", "pdf"),
    ("issued_from", "31.02.2026"),
    ("issued_to", "9999-99-99"),
    ("received_from", "yesterday"),
    ("client_id", "1e309"),
    ("limit", "999999999999999999999"),
    ("mint", "Everything"),
]
JUNK_BODIES: list[tuple[bytes, str]] = [
    (b'{"name": 5, "nip": [], "number": {}, "action": null, "scopes": "x", "amount": "1"}',
     "application/json"),
    (b'["not", "an", "object"]', "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "application/xml"),
    (b"PK\x03\x04" + b"\x00" * 64, "application/zip"),
]  # fmt: skip


def _urls(app: Flask, w: World) -> Iterator[tuple[str, str]]:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        url = rule.rule
        for arg in rule.arguments:
            value = {
                "bureau_id": w.bureau_id,
                "kind": "counterparties",
            }.get(arg, w.client_ids[0] if arg == "client_id" else 1)
            url = url.replace(f"<int:{arg}>", str(value)).replace(f"<{arg}>", str(value))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url


@pytest.fixture
def admin(app: Flask, make_world: Callable[..., World]) -> tuple[World, FlaskClient]:
    w = make_world()
    return w, signed_in(app, w.admin_email)


def test_junk_query_parameters_never_cause_a_server_error(
    app: Flask, admin: tuple[World, FlaskClient]
) -> None:
    w, http = admin
    checked = 0
    for method, url in _urls(app, w):
        if method != "GET":
            continue
        for key, value in JUNK_QUERY:  # one at a time, so each reaches its check
            response = http.get(url, query_string={key: value})
            assert response.status_code < 500, (url, key, response.status_code, response.data)
            checked += 1
    assert checked > 25 * len(JUNK_QUERY)


def test_junk_bodies_never_cause_a_server_error(
    app: Flask, admin: tuple[World, FlaskClient]
) -> None:
    w, http = admin
    checked = 0
    for method, url in _urls(app, w):
        if method == "GET":
            continue
        for body, mimetype in JUNK_BODIES:
            response = http.open(
                url,
                method=method,
                data=body,
                content_type=mimetype,
                headers={"X-Requested-With": "test"},
            )
            assert response.status_code < 500, (method, url, body[:40], response.data[:300])
            if response.status_code >= 400:
                assert response.mimetype == "application/problem+json", (method, url)
            checked += 1
    assert checked > 100
