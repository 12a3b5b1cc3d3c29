"""The sandbox against the Ministry's open-api.json: it serves no undocumented path, and a
tour of its main operations (done here, depending on no other test) answers as documented.

Every other sandbox test checks its own answers too (the autouse fixture in conftest)."""

from __future__ import annotations

import httpx

from tests.ksef_sandbox import conformance
from tests.ksef_sandbox.conftest import LiveSandbox
from tests.ksef_sandbox.test_sessions import Seller
from tests.reference import require_reference


def test_sandbox_serves_only_documented_paths(sandbox: LiveSandbox) -> None:
    require_reference()
    served = [
        (m, r.rule)
        for r in sandbox.app.url_map.iter_rules()
        if r.rule.startswith("/v2")
        for m in sorted(r.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(served) >= 45
    for method, rule in served:
        conformance.operation(method, rule)


def test_every_json_response_matches_its_schema(sandbox: LiveSandbox) -> None:
    require_reference()
    start = len(sandbox.responses)
    seller = Seller(sandbox)  # public keys, challenge, token auth, status, redeem, open
    ref = seller.send(seller.invoice("FV/TOUR/1"))
    assert seller.status(ref).status.code == 200
    seller.raw("GET", f"/sessions/{seller.session}/invoices")
    seller.raw("GET", f"/sessions/{seller.session}")
    seller.raw("GET", "/sessions", params={"sessionType": "Online", "pageSize": 10})
    seller.raw("GET", "/rate-limits")
    seller.raw("GET", "/limits/context")
    seller.raw("GET", "/sessions/20250101-SO-0000000000-0000000000-00")  # an error answer
    seller.raw(
        "POST",
        "/invoices/query/metadata",
        params={"pageSize": 10},
        json={
            "subjectType": "Subject1",
            "dateRange": {"dateType": "Invoicing", "from": "2026-01-01T00:00:00Z"},
        },
    )
    httpx.post(f"{sandbox.url}/v2/auth/challenge")
    checked = conformance.check(sandbox.responses[start:])
    assert len(checked) >= 12, sorted(checked)
