"""Per-application objects reachable from services without importing Flask elsewhere."""

from __future__ import annotations

from typing import Any

from flask import current_app

from integration.core.settings import Settings

_SETTINGS_KEY = "delegat.settings"


def register_settings(extensions: dict[str, Any], settings: Settings) -> None:
    extensions[_SETTINGS_KEY] = settings


def current_settings() -> Settings:
    """The settings of the application whose context is active."""
    settings = current_app.extensions[_SETTINGS_KEY]
    assert isinstance(settings, Settings)
    return settings
