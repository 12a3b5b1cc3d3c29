"""The invoice fixtures (a connected client, settling jobs) serve the audit tests too."""

from tests.invoices.conftest import connect_ksef, connected, make_world, settle

__all__ = ["connect_ksef", "connected", "make_world", "settle"]
