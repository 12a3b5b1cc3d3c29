"""An ERP's retry with the same Idempotency-Key gets the first answer; nothing is done twice."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select

from integration.core.db import db
from integration.invoices.models import Invoice
from tests.conftest import World
from tests.invoices.conftest import Connected, invoice_xml


def _post(app: Flask, connected: Connected, token: str, xml: bytes, key: str | None) -> object:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return app.test_client().post(
        f"/api/v1/clients/{connected.client_id}/invoices",
        data=xml,
        content_type="application/xml",
        headers=headers,
    )


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Invoice)) or 0


def test_a_retry_with_the_same_key_gets_the_first_answer_and_queues_nothing_more(
    app: Flask, connected: Connected, make_token: Callable[..., str]
) -> None:
    token = make_token(bureau_id=connected.world.bureau_id)
    xml = invoice_xml(connected.nip, "FV/IDEM/1")
    first = _post(app, connected, token, xml, "erp-42")
    again = _post(app, connected, token, xml, "erp-42")
    assert first.status_code == again.status_code == 202  # type: ignore[attr-defined]
    assert again.json == first.json  # type: ignore[attr-defined]
    assert again.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert _count(app) == 1
    without = _post(app, connected, token, xml, None)  # no key: a second submission
    assert without.status_code == 409  # type: ignore[attr-defined]


def test_keys_belong_to_their_caller_and_to_their_request(
    app: Flask, connected: Connected, make_token: Callable[..., str]
) -> None:
    mine, theirs = (make_token(bureau_id=connected.world.bureau_id) for _ in range(2))
    first = _post(app, connected, mine, invoice_xml(connected.nip, "FV/IDEM/2"), "k")
    other_request = _post(app, connected, mine, invoice_xml(connected.nip, "FV/IDEM/3"), "k")
    other_caller = _post(app, connected, theirs, invoice_xml(connected.nip, "FV/IDEM/2"), "k")
    assert first.status_code == 202  # type: ignore[attr-defined]
    assert other_request.status_code == 202  # type: ignore[attr-defined]
    assert "Idempotent-Replayed" not in other_request.headers  # type: ignore[attr-defined]
    assert other_caller.status_code == 409  # type: ignore[attr-defined]  # a duplicate, not a replay
    assert _count(app) == 2


def test_a_malformed_key_is_refused(
    app: Flask, make_world: Callable[..., World], make_token: Callable[..., str]
) -> None:
    w = make_world()
    r = app.test_client().post(
        f"/api/v1/bureaus/{w.bureau_id}/clients",
        json={"nip": "1112223332", "name": "X"},
        headers={
            "Authorization": f"Bearer {make_token(bureau_id=w.bureau_id)}",
            "Idempotency-Key": "a b",
        },
    )
    assert r.status_code == 422
    assert r.json["errors"][0]["field"] == "Idempotency-Key"
