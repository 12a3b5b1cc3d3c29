"""Every API operation declares the scope a bearer token needs, and a token without it is
refused before anything happens; the OpenAPI document is the list of operations walked."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask

from integration.accounts.actor import SCOPES
from integration.accounts.models import Role
from tests.conftest import World

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(app: Flask) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.test_client().get("/api/v1/openapi.json").json
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _url(path: str, w: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        bureau_side = path.startswith(("/api/v1/bureaus/", "/api/v1/platform/bureaus/"))
        if name == "bureau_id" or (name == "tenant_id" and bureau_side):
            return str(w.bureau_id)
        if name in ("client_id", "tenant_id"):
            return str(w.client_ids[0])
        if name == "kind":
            return "counterparties"
        return "1"

    return re.sub(r"\{(\w+)\}", value, path)


def test_the_openapi_document_is_served_to_anyone_and_to_any_token(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id, scopes="quota:read")
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        r = app.test_client().get("/api/v1/openapi.json", headers=headers)
        assert r.status_code == 200, r.json
        assert r.json["openapi"].startswith("3.")


def test_every_api_operation_declares_who_may_call_it(app: Flask) -> None:
    operations = _operations(app)
    assert len(operations) >= 80
    undeclared = [(m, p) for m, p, op in operations if "security" not in op]
    assert undeclared == []
    for method, path, op in operations:
        for requirement in op["security"]:
            for scheme, scopes in requirement.items():
                assert scheme in ("bearer", "session"), (method, path)
                assert set(scopes) <= SCOPES, (method, path, scopes)


def test_a_token_lacking_the_declared_scope_is_refused_on_every_operation(
    app: Flask,
    make_world: Callable[..., World],
    make_token: Callable[..., str],
) -> None:
    w = make_world()
    http = app.test_client()
    tokens: dict[str, str] = {}

    def token_without(scope: str | None) -> str:
        key = scope or ""
        if key not in tokens:
            held = " ".join(sorted(SCOPES - {scope}))
            tokens[key] = make_token(bureau_id=w.bureau_id, role=Role.BUREAU_ADMIN, scopes=held)
        return tokens[key]

    walked = 0
    open_to_all = 0
    for method, path, op in _operations(app):
        requirements = op["security"]
        bearer = [r["bearer"] for r in requirements if "bearer" in r]
        if not requirements or (bearer and not bearer[0]):
            open_to_all += 1  # sign-in, trials, health, /me: nothing to lack
            continue
        lacking = bearer[0] if bearer else [None]  # people only: every scope is not enough
        for scope in lacking:
            r = http.open(
                _url(path, w),
                method=method,
                json={},
                headers={"Authorization": f"Bearer {token_without(scope)}"},
            )
            assert r.status_code == 403, (method, path, scope, r.status_code, r.json)
            assert r.mimetype == "application/problem+json"
            expected = "insufficient-scope" if scope else "people-only"
            assert r.json["type"].endswith(expected), (method, path, r.json)
            if scope:
                assert r.json["required_scope"] == scope
        walked += 1
    assert walked >= 70
    assert open_to_all <= 8
    sys.stdout.write(f"scope test: {walked} operations walked, {open_to_all} open to any caller\n")


def test_a_token_holding_the_declared_scope_passes_the_scope_check(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    token = make_token(bureau_id=w.bureau_id, scopes="ksef:read")
    r = app.test_client().get(
        f"/api/v1/clients/{w.client_ids[0]}/ksef/credentials",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.json
