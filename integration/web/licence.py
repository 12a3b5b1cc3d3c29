"""The bureau's licence and KSeF package: numbers, seats, the package and its forecast, and
moving the whole bureau."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, request
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts.actor import Actor
from integration.core.clock import now
from integration.core.errors import ValidationFailed
from integration.core.i18n import _
from integration.invoices import archive
from integration.licensing import service as licensing
from integration.quota import service as quota
from integration.web.common import Outcome, Page, act, actor, bp, download, show, signed_in, upload


@bp.route("/bureaus/<int:bureau_id>/licence", methods=["GET", "POST"])
@signed_in
def licence_panel(bureau_id: int) -> Page:
    """The licence panel: numbers, seats, reminders; enter a number; check the status."""
    who = actor()
    outcome: Outcome | BaseResponse | None = None
    if request.method == "POST":
        outcome = act(lambda action: _action(who, bureau_id, action))
        if isinstance(outcome, BaseResponse):
            return outcome
    panel = licensing.licence_panel(who, bureau_id)
    return show(
        "licence/panel.html",
        outcome,
        panel=panel,
        trial_days_left=_days_left(panel),
        package=quota.statement(who, bureau_id, limit=10),
        bureau_id=bureau_id,
        admin=who.administers_bureau(bureau_id),
    )


def _days_left(panel: dict[str, Any]) -> int | None:
    """Whole days until the trial ends (None when the bureau is not on a trial)."""
    subscription = panel.get("subscription") or {}
    ends = subscription.get("trial_ends_at")
    if subscription.get("status") != "trial" or not ends:
        return None
    return max(0, (datetime.fromisoformat(str(ends)) - now()).days)


def _action(who: Actor, bureau_id: int, action: str) -> str:
    if action == "import":
        moved = archive.import_bureau(who, bureau_id, upload())
        return _(
            "Imported %(new)d new and %(old)d existing client(s), %(invoices)d invoice(s) "
            "(%(skipped)d were already here) and %(rows)d master-data row(s).",
            new=moved.clients_created,
            old=moved.clients_updated,
            invoices=moved.invoices_created,
            skipped=moved.invoices_skipped,
            rows=moved.master_data_rows,
        )
    if action == "number" or (not action and request.form.get("number")):
        licensing.enter_licence(who, bureau_id, request.form.get("number", ""))
        return _("The licence number is entered.")
    if action in ("check", ""):
        licensing.licence_panel(who, bureau_id)
        return _("Registration status checked.")
    raise ValidationFailed.single("action", "unknown action")


@bp.get("/bureaus/<int:bureau_id>/export.zip")
@signed_in
def bureau_export(bureau_id: int) -> Response:
    data = archive.export_bureau(actor(), bureau_id)
    return download(data, f"bureau-{bureau_id}.zip", "application/zip")
