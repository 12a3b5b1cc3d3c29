"""The table of periodic jobs, run by the cron scheduler that ``worker.py --cron`` starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    func: str
    queue: str
    interval_seconds: int


PERIODIC = (
    Periodic("integration.accounts.jobs.reconcile_welcome_emails", "mail", 300),
    Periodic("integration.mail.jobs.sweep_mail", "mail", 120),
    Periodic("integration.licensing.jobs.apply_licence_deadlines", "default", 3600),
    Periodic("integration.invoices.jobs.reconcile_invoices", "ksef", 20),  # claims lapse in 60 s
    Periodic("integration.invoices.jobs.sync_all_costs", "ksef", 900),
    Periodic("integration.permissions.jobs.pull_all_grants", "ksef", 3600),
    Periodic("integration.invoices.jobs.learn_all_master_data", "default", 3600),
    Periodic("integration.quota.jobs.warn_low_packages", "mail", 3600),
    Periodic("integration.invoices.jobs.send_invoice_digests", "mail", 86400),
)
