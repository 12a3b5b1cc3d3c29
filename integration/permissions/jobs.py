"""Jobs of permissions: ids in, a service call, a short result out."""

from __future__ import annotations

from integration.permissions import service


def apply_grant(grant_id: int, attempt: int = 0) -> str:
    return service.apply_grant(grant_id, attempt)


def pull_grants(client_id: int, asked: bool = False) -> str:
    return service.pull_grants(client_id, asked)


def pull_all_grants() -> int:
    """Periodic: start mirroring the grants of every client with KSeF credentials."""
    return service.pull_all()
