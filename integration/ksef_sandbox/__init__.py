"""A faithful local emulator of the KSeF 2.0 API (``/v2``) for development and tests."""
