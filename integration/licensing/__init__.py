"""Licences, plans and trials, client registration with its 60-day grace, activation."""
