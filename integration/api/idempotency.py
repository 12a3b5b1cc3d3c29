"""``Idempotency-Key`` on every POST: a retried request gets the first answer again.

An ERP that sent an invoice and lost the answer (a timeout, a dropped connection) sends the
same request with the same key; it gets the answer the first request got, with
``Idempotent-Replayed: true``, and nothing is done twice. The key belongs to its caller (a
person, an API client, or an address for anonymous calls) and to the exact request (method,
path, query and body): another request with the same key is simply another request. While the
first is still being answered, a repeat is told 409 with Retry-After. Answers are kept 24 hours;
a server error is not kept, so that a retry can succeed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apispec import BasePlugin
from flask import Flask, Response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from integration.api.auth import current_actor
from integration.core.clock import now
from integration.core.db import Base, transaction
from integration.core.errors import Conflict, DomainError, ValidationFailed

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)
ABANDONED = timedelta(minutes=2)  # an answer in progress this long is taken as lost
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_OWNED = "delegat.idempotency"
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "repeat a request with the same key to get its first answer again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


class IdempotentRequest(Base):
    """The first answer to a request sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotent_request"
    __table_args__ = (sa.UniqueConstraint("owner", "key", "request_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(120))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int | None]
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    content_type: Mapped[str] = mapped_column(sa.String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    completed_at: Mapped[datetime | None]


class RequestInProgress(Conflict):
    slug, title = "request-in-progress", "The first request with this key is being answered"

    def __init__(self) -> None:
        super().__init__("the first request with this Idempotency-Key is not answered yet")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


def _owner() -> str:
    try:
        actor = current_actor()
    except DomainError:
        return f"anonymous:{request.remote_addr or ''}"
    return actor.label


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\x00")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def before() -> Response | None:
    """Answer a repeated request from what was kept, or take the key for this one."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or not request.path.startswith("/api/"):
        return None
    if not _KEY.fullmatch(key):
        raise ValidationFailed.single(HEADER, "1 to 255 visible ASCII characters")
    owner, fingerprint, stamp = _owner(), _fingerprint(), now()
    with transaction() as s:
        s.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < stamp - KEPT))
        kept = s.scalar(
            select(IdempotentRequest).where(
                IdempotentRequest.owner == owner,
                IdempotentRequest.key == key,
                IdempotentRequest.request_hash == fingerprint,
            )
        )
        if kept is not None and kept.status is not None:
            answer = Response(kept.body or b"", status=kept.status, content_type=kept.content_type)
            answer.headers["Idempotent-Replayed"] = "true"
            return answer
        if kept is not None and kept.created_at > stamp - ABANDONED:
            raise RequestInProgress
        if kept is not None:
            s.delete(kept)
            s.flush()
    try:
        with transaction() as s:
            row = IdempotentRequest(
                owner=owner, key=key, request_hash=fingerprint, created_at=stamp
            )
            s.add(row)
            s.flush()
            request.environ[_OWNED] = row.id
    except IntegrityError:  # the same request at the same instant
        raise RequestInProgress from None
    return None


def after(response: Response) -> Response:
    """Keep the answer of a request that took a key (not a server error: that may be retried)."""
    row_id = request.environ.pop(_OWNED, None)
    if row_id is None:
        return response
    with transaction() as s:
        row = s.get(IdempotentRequest, row_id)
        if row is None:
            return response
        if response.status_code >= 500 or response.is_streamed:
            s.delete(row)
            return response
        row.status, row.completed_at = response.status_code, now()
        row.body, row.content_type = response.get_data(), response.content_type or ""
    return response


class PostsTakeIdempotencyKeys(BasePlugin):
    """The OpenAPI document says every POST takes the header."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        post = (operations or {}).get("post")
        if post is not None and path and path.startswith("/api/"):
            post.setdefault("parameters", []).append(dict(PARAMETER))


def init_app(app: Flask) -> None:
    app.before_request(before)
    app.after_request(after)
