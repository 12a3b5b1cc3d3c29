"""The invoice fixtures (settling jobs) serve the permission tests too."""

from tests.invoices.conftest import settle

__all__ = ["settle"]
