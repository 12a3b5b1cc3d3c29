"""The sandbox's answers against the Ministry's open-api.json (from the reference folder)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, Protocol

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.reference import require_reference


class Answer(Protocol):
    method: str
    rule: str
    status: int
    mimetype: str
    body: Any


@cache
def spec() -> dict[str, Any]:
    return json.loads((require_reference() / "open-api.json").read_text(encoding="utf-8"))


def template(rule: str) -> str:
    path = rule.removeprefix("/v2")
    return re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", path)


def operation(method: str, rule: str) -> dict[str, Any]:
    """The spec operation of a served rule; parameter names may differ, positions may not."""
    wanted = re.sub(r"\{[^}]+\}", "{}", template(rule))
    for path, ops in spec()["paths"].items():
        if re.sub(r"\{[^}]+\}", "{}", path) == wanted and method.lower() in ops:
            return ops[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {rule} is not in open-api.json")


def check(answers: list[Any]) -> set[tuple[str, str, int]]:
    """Assert each JSON answer matches its documented schema; the (method, path, status) seen."""
    checked: set[tuple[str, str, int]] = set()
    components = {"components": spec()["components"]}
    for rec in answers:
        if not rec.rule.startswith("/v2"):
            continue
        documented = operation(rec.method, rec.rule)
        response = documented["responses"].get(str(rec.status))
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
        checked.add((rec.method, template(rec.rule), rec.status))
    return checked
