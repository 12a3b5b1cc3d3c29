"""The bureau's prepaid KSeF package: balance, ledger, top-ups, debits made exactly once."""
