"""The audit trail page of a bureau (its clients' included) or of a client."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Response as FlaskResponse
from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.service import Tenant
from integration.api.auth import current_actor
from integration.audit.service import AuditFilter
from integration.core.clock import WARSAW
from integration.core.errors import Unauthenticated
from integration.web.common import PAGE_ROWS, bp
from integration.web.common import day as _day
from integration.web.common import page_number as _page_number

ACTIONS = {
    "": "wszystkie",
    "grant": "uprawnienia",
    "credential": "dostęp do KSeF",
    "seal": "pieczęć",
    "invoice": "faktury",
    "package": "paczki",
    "invoices": "pobieranie faktur kosztowych",
    "registration": "rejestracja klientów",
    "licence": "licencje",
    "person": "osoby",
    "api_client": "klienci API",
    "client": "firmy klientów",
    "master_data": "kartoteki",
    "export": "eksport",
    "import": "import",
    "quota": "pakiet KSeF",
}
OUTCOMES = {"": "każdy", "ok": "wykonano", "refused": "odmowa", "failed": "błąd"}


def _narrow() -> AuditFilter:
    """The filters of the page's form; dates are whole days in Poland."""
    start, end = _day(request.args.get("since")), _day(request.args.get("until"))
    client = request.args.get("client_id", "")
    return AuditFilter(
        action=request.args.get("action") or None,
        outcome=request.args.get("outcome") or None,
        actor=(request.args.get("actor") or "").strip()[:100] or None,
        since=datetime.combine(start, time(), WARSAW).astimezone(UTC) if start else None,
        until=(
            datetime.combine(end + timedelta(days=1), time(), WARSAW).astimezone(UTC)
            if end
            else None
        ),
        client_id=int(client) if client.isdigit() and int(client) < 2**31 else None,
    )


@bp.get("/<any(bureaus, clients):kind>/<int:tenant_id>/audit")
def audit_trail(kind: str, tenant_id: int) -> Response | str:
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    tenant = Tenant("bureau" if kind == "bureaus" else "client", tenant_id)
    page = accounts.audit_trail(actor, tenant, _narrow(), page=_page_number(), per_page=PAGE_ROWS)
    return render_template(
        "audit/trail.html",
        kind=kind,
        tenant_id=tenant_id,
        page=page,
        actions=ACTIONS,
        outcomes=OUTCOMES,
        warsaw=WARSAW,
    )


@bp.get("/<any(bureaus, clients):kind>/<int:tenant_id>/audit.csv")
def audit_export(kind: str, tenant_id: int) -> Response:
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    tenant = Tenant("bureau" if kind == "bureaus" else "client", tenant_id)
    data = accounts.audit_csv(actor, tenant, _narrow())
    return FlaskResponse(
        data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{kind}-{tenant_id}.csv"'},
    )
