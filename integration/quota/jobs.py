"""Jobs of the KSeF package: ids in, a service call, a short result out."""

from __future__ import annotations

from integration.quota import service


def warn_low_packages() -> int:
    """Periodic: tell bureau admins whose package runs low (once until the next top-up)."""
    return service.warn_low_balances()
