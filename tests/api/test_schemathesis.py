"""A bounded schemathesis run: every operation of the OpenAPI document, a few generated
requests each (signed in with a token that holds every scope), answered as documented:
status, content type, headers and body schema, never a 500, invalid input refused.

Operations that check more than JSON Schema can say (a NIP's checksum, a file's content, a
one-time code) declare it as ``x-checked-beyond-schema``; for them alone a 422 problem is an
accepted answer to schema-valid input. Every other check holds for every operation."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import World

# A few per operation in the suite; set SCHEMATHESIS_EXAMPLES for a longer run by hand.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
BEYOND_SCHEMA = "x-checked-beyond-schema"
FILES = [
    "application/zip",
    "application/x-pkcs12",
    "application/x-pem-file",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]
schemathesis.serializer.alias(FILES, "application/octet-stream")


def _accepted_or_refused_by_a_deeper_check(ctx: Any, response: Any, case: Any) -> None:
    """positive_data_acceptance, where a named 422 problem is also an accepted answer."""
    if response.status_code == 422:
        headers = {name.lower(): value for name, value in response.headers.items()}
        content_type = headers.get("content-type", "")
        if isinstance(content_type, list):
            content_type = content_type[0] if content_type else ""
        assert content_type.startswith("application/problem+json"), content_type
        assert response.json()["errors"], response.text  # the refusal names its field
        return
    positive_data_acceptance(ctx, response, case)


def _runner(
    operation: Any, headers: dict[str, str], checks: dict[str, Any], cases: list[int]
) -> Callable[[], None]:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=EXAMPLES <= 3,
        database=None,
    )
    def run(case: Any) -> None:
        cases[0] += 1
        case.call_and_validate(headers=headers, **checks)

    return run  # type: ignore[no-any-return]


def test_every_operation_answers_as_documented(
    app: Flask,
    make_world: Callable[..., World],
    make_token: Callable[..., str],
) -> None:
    w = make_world()
    headers = {"Authorization": f"Bearer {make_token(bureau_id=w.bureau_id)}"}
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations, cases = 0, [0]
    failures: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        operations += 1
        deeper = BEYOND_SCHEMA in operation.definition.raw
        checks: dict[str, Any] = (
            {
                "excluded_checks": [positive_data_acceptance],
                "additional_checks": [_accepted_or_refused_by_a_deeper_check],
            }
            if deeper
            else {}
        )

        run = _runner(operation, headers, checks, cases)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    sys.stdout.write(f"schemathesis: {operations} operations, {cases[0]} cases\n")
    assert operations >= 80
    assert cases[0] >= operations
    assert failures == [], "\n\n".join(failures)
