"""Jobs of the credentials domain."""

from __future__ import annotations

from integration.credentials import connection


def check_connection(*, client_id: int, chain: str = "c", attempt: int = 0) -> str:
    """Prove the client's KSeF credentials work, within the shared rate budget."""
    return connection.check_connection(client_id, chain, attempt)
