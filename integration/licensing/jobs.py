"""Jobs of licensing."""

from __future__ import annotations

from integration.licensing import service


def apply_licence_deadlines() -> dict[str, int]:
    """Daily: grace expiries, trial ends, support-licence reminders."""
    return service.apply_deadlines()
