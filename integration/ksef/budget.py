"""Per-context request budgets shared by every worker through Redis.

KSeF counts requests per (context, client IP) in 1-second, 1-minute and 1-hour windows per
endpoint group. Every call first takes a slot here; when a window is full the caller learns
how long to wait and reschedules itself instead of earning a 429. A 429 that still happens
blocks the group for its Retry-After and halves the budget for an hour.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis import Redis

# Published production limits (per second, minute, hour); KSeF's /rate-limits may override.
LIMITS: dict[str, tuple[int, int, int]] = {
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
WINDOWS = (1.0, 60.0, 3600.0)
STRICT_FOR = 3600
_TAKE = """
local now, member = tonumber(ARGV[1]), ARGV[2]
local strict = redis.call('EXISTS', KEYS[5]) == 1
local blocked = redis.call('PTTL', KEYS[4])
if blocked > 0 then return {0, blocked} end
local wait = 0
for i = 1, 3 do
  local window = tonumber(ARGV[2 + i * 2 - 1])
  local limit = tonumber(ARGV[2 + i * 2])
  if strict then limit = math.max(1, math.floor(limit / 2)) end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local free_at = tonumber(oldest[2]) + window
    wait = math.max(wait, free_at - now)
  end
end
if wait > 0 then return {0, math.ceil(wait)} end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 + i * 2 - 1])) + 1000)
end
return {1, 0}
"""


@dataclass
class RateBudget:
    redis: Redis
    limits: dict[str, tuple[int, int, int]] | None = None
    prefix: str = "delegat:ksef-budget"

    def _keys(self, context: str, group: str) -> list[str]:
        base = f"{self.prefix}:{context}:{group}"
        return [
            f"{base}:1s",
            f"{base}:1m",
            f"{base}:1h",
            f"{base}:blocked",
            f"{self.prefix}:{context}:strict",
        ]

    def take(self, context: str, group: str) -> float:
        """Take a slot: 0.0 when the call may go now, else seconds to wait (nothing taken)."""
        per = (self.limits or LIMITS).get(group, (self.limits or LIMITS)["other"])
        now_ms = int(time.time() * 1000)
        args: list[str | int] = [now_ms, uuid.uuid4().hex]
        for window, limit in zip(WINDOWS, per, strict=True):
            args += [int(window * 1000), limit]
        allowed, wait_ms = self.redis.eval(_TAKE, 5, *self._keys(context, group), *args)
        return 0.0 if int(allowed) == 1 else max(int(wait_ms), 1) / 1000.0

    def penalise(self, context: str, group: str, retry_after: int) -> None:
        """Honour a 429: block the group for Retry-After and halve the budget for an hour."""
        keys = self._keys(context, group)
        self.redis.set(keys[3], "1", px=max(retry_after, 1) * 1000)
        self.redis.set(keys[4], "1", ex=STRICT_FOR)


def group_of(method: str, path: str) -> str:  # noqa: PLR0911 - one line per KSeF group
    """The KSeF limit group of a call (paths relative to /v2)."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["sessions", "online"]:
        return "invoiceSend" if parts[-1] == "invoices" else "onlineSession"
    if parts[:2] == ["sessions", "batch"]:
        return "batchSession"
    if parts == ["sessions"]:
        return "sessionList"
    if parts[0] == "sessions":
        if parts[-1] in ("invoices", "failed"):
            return "sessionInvoiceList"
        if len(parts) == 4 and parts[2] == "invoices":
            return "invoiceStatus"
        return "sessionMisc"
    if parts[:3] == ["invoices", "query", "metadata"]:
        return "invoiceMetadata"
    if parts[:2] == ["invoices", "exports"]:
        return "invoiceExport" if method == "POST" else "invoiceExportStatus"
    if parts[:2] == ["invoices", "ksef"]:
        return "invoiceDownload"
    return "other"
