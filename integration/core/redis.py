"""The Redis connection: it carries work (queues), never the source of truth."""

from __future__ import annotations

from redis import Redis


def connect(url: str) -> Redis:
    """A client for ``url``; raw bytes, as RQ expects."""
    return Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def ping(conn: Redis) -> bool:
    try:
        return bool(conn.ping())
    except Exception:
        return False
