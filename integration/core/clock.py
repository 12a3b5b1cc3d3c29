"""One injectable clock: every deadline in the service is computed from it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


_clock: Clock = SystemClock()


WARSAW = ZoneInfo("Europe/Warsaw")


def today_in_poland() -> date:
    """The calendar day in Poland now: the day KSeF judges dates by."""
    return now().astimezone(WARSAW).date()


def now() -> datetime:
    """The current UTC time from the installed clock."""
    return _clock.now()


def install(clock: Clock) -> Clock:
    """Install a clock and return the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous
