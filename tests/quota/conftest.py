"""The invoice fixtures (KSeF credentials, settling jobs) serve the quota tests too."""

from tests.invoices.conftest import connect_ksef, settle

__all__ = ["connect_ksef", "settle"]
