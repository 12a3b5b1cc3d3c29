"""Per-context request budgets shared by every worker through Redis.

KSeF counts requests per (context, client IP) in sliding 1-second, 1-minute and 1-hour windows
per endpoint group. Every call first takes a slot here; when a window is full the caller learns
how long to wait and reschedules itself instead of earning a 429. The windows are a little
longer than KSeF's (a call reaches KSeF a moment after it took its slot, and not every call as
quickly) and timed by the Redis server's clock, the one clock every worker shares. A 429 that
still happens blocks the group for its Retry-After and halves the budget, which then grows back
evenly to the full limits over ten minutes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from redis import Redis

from integration.ksef.errors import KsefUnavailable

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
MARGINS = (0.25, 1.0, 1.0)  # seconds each window is held longer than KSeF's
RECOVER_FOR = 600  # seconds from a 429 back to the full limits
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local member, recover = ARGV[1], tonumber(ARGV[2])
local blocked = redis.call('PTTL', KEYS[4])
if blocked > 0 then return {0, blocked} end
local share = 1
local since = tonumber(redis.call('GET', KEYS[5]) or '')
if since then share = 0.5 + 0.5 * math.min(1, math.max(0, now - since) / recover) end
local wait = 0
for i = 1, 3 do
  local window = tonumber(ARGV[1 + i * 2])
  local limit = math.max(1, math.floor(tonumber(ARGV[2 + i * 2]) * share))
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    -- the slot frees when enough of the oldest calls leave the window
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return {0, math.ceil(wait)} end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1 + i * 2])) + 1000)
end
return {1, 0}
"""
_PENALISE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SET', KEYS[2], now, 'EX', ARGV[2])
return now
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
            f"{self.prefix}:{context}:penalised",  # since when (ms), while it recovers
        ]

    def take(self, context: str, group: str) -> float:
        """Take a slot: 0.0 when the call may go now, else seconds to wait (nothing taken)."""
        per = (self.limits or LIMITS).get(group, (self.limits or LIMITS)["other"])
        args: list[str | int] = [uuid.uuid4().hex, RECOVER_FOR * 1000]
        for window, margin, limit in zip(WINDOWS, MARGINS, per, strict=True):
            args += [int((window + margin) * 1000), limit]
        allowed, wait_ms = self.redis.eval(_TAKE, 5, *self._keys(context, group), *args)
        return 0.0 if int(allowed) == 1 else max(int(wait_ms), 1) / 1000.0

    def penalise(self, context: str, group: str, retry_after: int) -> None:
        """Honour a 429: block the group for Retry-After; the context's budget is halved and
        grows back to its limits over RECOVER_FOR seconds."""
        keys = self._keys(context, group)
        self.redis.eval(_PENALISE, 2, keys[3], keys[4], max(retry_after, 1) * 1000, RECOVER_FOR)


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


T = TypeVar("T")
# A KSeF fault this short-lived (a 5xx, a timeout, a dropped connection) is waited out in the
# job, keeping its session; after the last pause the fault goes to the caller.
TRANSIENT_PAUSES = (0.01, 0.05, 0.25, 1.0)


def patiently(take: Callable[[], None], call: Callable[[], T]) -> T:
    """``take`` a slot of the budget and make ``call``; a transient fault is tried again after
    each of TRANSIENT_PAUSES, every try with a slot of its own (KSeF counts it too)."""
    for pause in (*TRANSIENT_PAUSES, None):
        take()
        try:
            return call()
        except KsefUnavailable:
            if pause is None:
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")
