"""HTTP to KSeF: the only module that imports httpx. Maps answers to typed errors."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from integration.ksef.errors import (
    REJECTIONS,
    KsefError,
    KsefForbidden,
    KsefRateLimited,
    KsefRejected,
    KsefUnauthorized,
    KsefUnavailable,
)

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
Transport = httpx.BaseTransport  # what tests inject instead of the network


def parse_retry_after(value: str | None, default: int = 5) -> int:
    """Retry-After in seconds (KSeF sends integers; HTTP dates are not used)."""
    try:
        return max(0, int(str(value).strip()))
    except (TypeError, ValueError):
        return default


class KsefHttp:
    """Requests with credentials given per call; one instance serves every context."""

    def __init__(
        self,
        base_url: str,
        client: httpx.Client | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=DEFAULT_TIMEOUT, transport=transport)

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        exact_headers: bool = False,
    ) -> httpx.Response:
        """``exact_headers``: send only ``headers`` (pre-signed storage addresses want them so)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        sent = (
            dict(headers or {})
            if exact_headers
            else {"Accept": "application/json", **(headers or {})}
        )
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        try:
            response = self._client.request(
                method, url, json=json, content=content, params=params, headers=sent
            )
        except httpx.TransportError as exc:
            raise KsefUnavailable(
                f"KSeF did not answer {method} {path}: {type(exc).__name__}"
            ) from exc
        warning = response.headers.get("X-System-Warning")
        if warning:
            log.warning("KSeF system warning on %s %s: %s", method, path, warning)
        if response.status_code in expect:
            return response
        raise _error(method, path, response)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(method: str, path: str, response: httpx.Response) -> KsefError:  # noqa: PLR0911 - one answer per status class
    status, body = response.status_code, _body(response)
    where = f"{method} {path}"
    if status == 429:
        return KsefRateLimited(
            f"KSeF rate limit on {where}",
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 500:
        return KsefUnavailable(f"KSeF answered {status} on {where}", status=status)
    if status == 401:
        return KsefUnauthorized(str(body.get("detail") or "unauthorized"), status=status)
    if status == 403:
        return KsefForbidden(
            str(body.get("detail") or "forbidden"), status=status, reason=body.get("reasonCode")
        )
    exception = body.get("exception") or {}
    items = exception.get("exceptionDetailList") or []
    if items:
        first = items[0]
        return _rejection(
            first.get("exceptionCode"),
            first.get("exceptionDescription"),
            first.get("details"),
            status,
        )
    if body.get("errors"):  # problem-details form of a 400
        first = body["errors"][0]
        return _rejection(first.get("code"), first.get("description"), first.get("details"), status)
    return KsefError(f"KSeF answered {status} on {where}", status=status)


def _rejection(code: Any, description: Any, details: Any, status: int) -> KsefRejected:
    number = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    kind = REJECTIONS.get(number or 0, KsefRejected)
    return kind(
        str(description or "rejected"),
        status=status,
        code=number,
        details=[str(d) for d in details or []],
    )
