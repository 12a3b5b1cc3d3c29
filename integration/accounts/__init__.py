"""Bureaus, client companies, people, user accounts, memberships and API clients."""
