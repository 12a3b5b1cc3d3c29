"""Every JSON body the sandbox gave during this run validates against open-api.json, and the
sandbox serves no path the specification does not document.

Named to run after the other sandbox tests, whose responses it checks."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.ksef_sandbox.conftest import SPEC_PATH, LiveSandbox


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def _template(rule: str) -> str:
    path = rule.removeprefix("/v2")
    return re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", path)


def _match(method: str, rule: str) -> dict[str, Any]:
    """The spec operation of a served rule; parameter names may differ, positions may not."""
    wanted = re.sub(r"\{[^}]+\}", "{}", _template(rule))
    for path, ops in spec()["paths"].items():
        if re.sub(r"\{[^}]+\}", "{}", path) == wanted and method.lower() in ops:
            return ops[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {rule} is not in open-api.json")


def test_sandbox_serves_only_documented_paths(sandbox: LiveSandbox) -> None:
    served = [
        (m, r.rule)
        for r in sandbox.app.url_map.iter_rules()
        if r.rule.startswith("/v2")
        for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(served) >= 45
    for method, rule in served:
        _match(method, rule)


def test_every_json_response_matches_its_schema(sandbox: LiveSandbox) -> None:
    assert len(sandbox.responses) > 100, "run with the other sandbox tests"
    checked: set[tuple[str, str, int]] = set()
    components = {"components": spec()["components"]}
    for rec in sandbox.responses:
        if not rec.rule.startswith("/v2"):
            continue
        operation = _match(rec.method, rec.rule)
        response = operation["responses"].get(str(rec.status))
        assert response is not None, f"{rec.method} {rec.rule} answered undocumented {rec.status}"
        content = response.get("content") or {}
        media = content.get(rec.mimetype) or content.get("application/json")
        assert media is not None, f"{rec.method} {rec.rule} {rec.status}: no {rec.mimetype}"
        schema = {**media["schema"], **components}
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(rec.body), key=lambda e: list(e.path))
        assert not errors, f"{rec.method} {rec.rule} {rec.status}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5]
        )
        checked.add((rec.method, _template(rec.rule), rec.status))
    assert len(checked) >= 25
