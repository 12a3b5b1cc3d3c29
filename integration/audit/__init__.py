"""The audit trail: who changed what, when, from where, and how it ended (append-only)."""
