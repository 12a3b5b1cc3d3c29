"""Rate limits per (context, client IP) and endpoint group, and fault injection.

Limits are off unless the sandbox starts with them on or a context switches them on through
/testdata/rate-limits (the TEST-environment endpoints). Faults are for testing clients against
an unreliable KSeF: a share of 5xx answers, added latency, responses dropped after the work.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

PRODUCTION: dict[str, tuple[int, int, int]] = {
    "onlineSession": (10, 30, 120),
    "invoiceSend": (10, 30, 180),
    "batchSession": (10, 20, 60),
    "invoiceStatus": (30, 120, 1200),
    "sessionList": (5, 10, 60),
    "sessionInvoiceList": (10, 20, 200),
    "sessionMisc": (10, 120, 1200),
    "invoiceMetadata": (8, 16, 20),
    "invoiceExport": (8, 16, 20),
    "invoiceExportStatus": (10, 60, 600),
    "invoiceDownload": (8, 16, 64),
    "other": (10, 30, 120),
}
PUBLIC = (60, 10**9, 10**9)
WINDOWS = (1.0, 60.0, 3600.0)
PUBLIC_RULES = (
    "/v2/auth/challenge",
    "/v2/auth/xades-signature",
    "/v2/auth/ksef-token",
    "/v2/auth/<reference_number>",
    "/v2/auth/token/redeem",
    "/v2/auth/token/refresh",
    "/v2/security/public-key-certificates",
)


def group_of(method: str, rule: str) -> str:
    """The limit group of an endpoint, as GET /rate-limits names them."""
    path = rule.removeprefix("/v2")
    if rule in PUBLIC_RULES or path.startswith("/testdata"):
        return "public"
    table = [
        ("POST", "/sessions/online", "onlineSession"),
        ("POST", "/sessions/online/<reference>/close", "onlineSession"),
        ("POST", "/sessions/online/<reference>/invoices", "invoiceSend"),
        ("POST", "/sessions/batch", "batchSession"),
        ("POST", "/sessions/batch/<reference>/close", "batchSession"),
        ("GET", "/sessions/<reference>/invoices/<invoice_ref>", "invoiceStatus"),
        ("GET", "/sessions", "sessionList"),
        ("GET", "/sessions/<reference>/invoices", "sessionInvoiceList"),
        ("GET", "/sessions/<reference>/invoices/failed", "sessionInvoiceList"),
        ("GET", "/sessions/<reference>", "sessionMisc"),
        ("GET", "/sessions/<reference>/invoices/<invoice_ref>/upo", "sessionMisc"),
        ("GET", "/sessions/<reference>/invoices/ksef/<ksef_number>/upo", "sessionMisc"),
        ("GET", "/sessions/<reference>/upo/<upo_ref>", "sessionMisc"),
        ("POST", "/invoices/query/metadata", "invoiceMetadata"),
        ("POST", "/invoices/exports", "invoiceExport"),
        ("GET", "/invoices/exports/<reference>", "invoiceExportStatus"),
        ("GET", "/invoices/ksef/<ksef_number>", "invoiceDownload"),
    ]
    for m, r, group in table:
        if m == method and r == path:
            return group
    return f"other:{method} {path}"  # every other endpoint has its own counter


@dataclass
class RateLimiter:
    enabled_globally: bool = False
    overrides: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    _hits: dict[tuple[str, str, str], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _breaches: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def limits_for(self, context: str | None) -> dict[str, tuple[int, int, int]] | None:
        if context is not None and context in self.overrides:
            return self.overrides[context]
        return PRODUCTION if self.enabled_globally else None

    def check(self, context: str | None, ip: str, group: str) -> int | None:
        """Count the call; return seconds to wait when it breaks a limit (the call is refused)."""
        if group == "public":
            if not self.enabled_globally:
                return None
            limits: tuple[int, int, int] = PUBLIC
        else:
            table = self.limits_for(context)
            if table is None:
                return None
            limits = table.get(group.split(":", 1)[0], table["other"])
        key = (context or "-", ip, group)
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - WINDOWS[-1]:
                hits.popleft()
            for window, limit in zip(WINDOWS, limits, strict=True):
                inside = [t for t in hits if t > now - window]
                if len(inside) >= limit:
                    self._breaches[key] += 1
                    wait = inside[-limit] + window - now
                    # repeated breaches lengthen the block, as KSeF does
                    return max(1, math.ceil(wait)) * min(self._breaches[key], 4)
            hits.append(now)
            self._breaches[key] = 0
        return None

    def effective(self, context: str | None) -> dict[str, Any]:
        table = self.limits_for(context) or dict.fromkeys(PRODUCTION, (10**6, 10**6, 10**6))
        return {
            g: {"perSecond": v[0], "perMinute": v[1], "perHour": v[2]} for g, v in table.items()
        }

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._breaches.clear()


@dataclass
class Faults:
    """Switchable at run time: ``app.extensions["ksef_sandbox.faults"]``."""

    error_rate: float = 0.0
    drop_rate: float = 0.0
    latency_seconds: float = 0.0
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate
