"""A dropped database connection is never a 500: a read is tried once more, a write is a 503
with Retry-After (and nothing half-written)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from integration.accounts.models import ClientCompany
from integration.core.db import db
from tests.conftest import World, signed_in


class Drop(Exception):
    """What the driver raises when the server closes the connection."""


@pytest.fixture
def drop_connections(app: Flask) -> Iterator[Callable[[int], None]]:
    """Make the next ``n`` statements find their connection gone (as a killed backend)."""
    left = [0]

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if left[0] and not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            left[0] -= 1
            raise sa.exc.OperationalError(statement, None, Drop("server closed the connection"))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    yield lambda n: left.__setitem__(0, n)
    sa.event.remove(engine, "before_cursor_execute", before)


def test_a_read_that_loses_its_connection_is_tried_once_more(
    app: Flask, make_world: Callable[..., World], drop_connections: Callable[[int], None]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    drop_connections(1)
    r = http.get(f"/api/v1/clients/{w.client_ids[0]}")
    assert r.status_code == 200, r.json


def test_a_write_that_loses_its_connection_is_a_503_with_retry_after_and_writes_nothing(
    app: Flask, make_world: Callable[..., World], drop_connections: Callable[[int], None]
) -> None:
    w = make_world()
    http = signed_in(app, w.admin_email)
    drop_connections(3)
    r = http.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Half"})
    assert r.status_code == 503
    assert r.mimetype == "application/problem+json"
    assert r.headers["Retry-After"] == "2"
    assert r.json["type"].endswith("database-unavailable")
    drop_connections(0)
    with app.app_context():
        client = db.session.get(ClientCompany, w.client_ids[0])
        assert client is not None
        assert client.name != "Half"
    assert (
        http.patch(f"/api/v1/clients/{w.client_ids[0]}", json={"name": "Whole"}).status_code == 200
    )
