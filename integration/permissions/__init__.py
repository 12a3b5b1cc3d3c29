"""Grants of a client company in KSeF, made here and mirrored from KSeF."""
