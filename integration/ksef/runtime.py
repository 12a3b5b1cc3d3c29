"""The application's KSeF client, built once in ``create_app``."""

from __future__ import annotations

from typing import Any

from flask import current_app

from integration.ksef.client import KsefClient

_KEY = "delegat.ksef"


def register(extensions: dict[str, Any], client: KsefClient) -> None:
    extensions[_KEY] = client


def current_client() -> KsefClient:
    client = current_app.extensions[_KEY]
    assert isinstance(client, KsefClient)
    return client
