"""Delegat: KSeF 2.0 for accounting bureaus and their client companies."""
