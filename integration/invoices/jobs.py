"""Jobs of invoices: ids in, a service call, a short result out."""

from __future__ import annotations

from integration.invoices import digest, learning, packages, sending, sync
from integration.jobs.runtime import exclusive


def send_queued(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Send the client's queued sales invoices: packages in batch sessions, the rest online.

    ``attempt`` numbers the job (its id); ``streak`` counts KSeF faults in a row (its wait).
    """
    package = packages.send_package(client_id, attempt, streak)
    online = sending.send_queued(client_id, attempt, streak)
    waiting = {"rescheduled", "partly-sent", "unavailable"}
    if package not in waiting and online not in waiting:  # those come back by themselves
        sending.follow_up(client_id)
    return online if package == "idle" else f"{package}; {online}"


def resume_sending(bureau_id: int) -> int:
    """After a top-up: send what waited for the bureau's package."""
    return sending.resume(bureau_id)


def check_sent(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Record what KSeF made of the client's sent invoices; then learn from the accepted.

    One check of a client runs at a time: another (the reconciler's, say) has nothing to add.
    """
    with exclusive(f"invoice-check:{client_id}") as mine:
        if not mine:
            sending.check_later(client_id, attempt)  # what the running one did not see
            return "busy"
        package = packages.check_packages(client_id, attempt, streak)
        online = sending.check_sent(client_id, attempt, streak)
    learning.request(client_id)
    return online if package == "idle" else f"{package}; {online}"


def close_session(client_id: int, session_reference: str) -> str:
    """Close an online session whose closing waited for the rate budget."""
    return sending.close_session(client_id, session_reference)


def recover_sending(client_id: int, session_reference: str) -> str:
    """Settle what a dead job handed to KSeF in one session."""
    return sending.recover(client_id, session_reference)


def reconcile_invoices() -> dict[str, int]:
    """Periodic: re-enqueue invoice work whose job was lost."""
    return sending.reconcile()


def sync_costs(client_id: int, attempt: int = 0, streak: int | None = None) -> str:
    """Download the client's new cost invoices; then learn their suppliers."""
    outcome = sync.sync_costs(client_id, attempt, streak)
    learning.request(client_id)
    return outcome


def sync_all_costs() -> int:
    """Periodic: start the cost-invoice download of every client with KSeF credentials."""
    return sync.enqueue_all()


def learn_master_data(client_id: int) -> dict[str, int]:
    """Read the client's new invoices into its counterparties and products."""
    return learning.learn_from_invoices(client_id)


def learn_all_master_data() -> int:
    """Periodic: find invoices whose learning job was lost."""
    return learning.sweep()


def send_invoice_digests() -> dict[str, int]:
    """Periodic (daily): e-mail what arrived and what needs attention since the last time."""
    return digest.send_digests()
