"""Health check and the OpenAPI document."""

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from integration.core.settings import Settings


def test_healthz_reports_database_and_redis(client: FlaskClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": True, "redis": True}


def test_healthz_is_503_when_redis_is_unreachable(
    settings: Settings, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    app = make_app(
        settings.replace(
            database_url=f"sqlite:///{tmp_path / 'h.db'}", redis_url="redis://127.0.0.1:1/0"
        )
    )
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json == {"status": "degraded", "database": True, "redis": False}


def test_openapi_documents_every_api_route(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/v1", "/oauth", "/healthz")) and "openapi" not in rule.rule:
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    assert "bearer" in spec["components"]["securitySchemes"]
    assert spec["components"]["schemas"]["Problem"]["properties"]["type"]
