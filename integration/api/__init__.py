"""The JSON API under /api/v1: thin handlers, RFC 9457 problems, session and bearer auth."""
