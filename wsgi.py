"""WSGI entry point."""

from integration.app import create_app

app = create_app()
