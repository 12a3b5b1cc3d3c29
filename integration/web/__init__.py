"""Pages for accountants, clients and admins (server-rendered)."""
