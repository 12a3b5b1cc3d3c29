"""The audit trail page of a bureau (its clients' included) or of a client."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.service import Tenant
from integration.api.auth import current_actor
from integration.audit.service import AuditFilter
from integration.core.clock import WARSAW
from integration.core.errors import Unauthenticated
from integration.core.i18n import lazy as _l
from integration.web.common import PAGE_ROWS, bp, download
from integration.web.common import day as _day
from integration.web.common import page_number as _page_number

ACTIONS = {
    "": _l("all"),
    "grant": _l("permissions"),
    "credential": _l("KSeF access"),
    "seal": _l("seal"),
    "invoice": _l("invoices"),
    "package": _l("packages"),
    "invoices": _l("cost invoice downloads"),
    "registration": _l("client registration"),
    "licence": _l("licences"),
    "person": _l("people"),
    "api_client": _l("API clients"),
    "client": _l("client companies"),
    "master_data": _l("master data"),
    "export": _l("export"),
    "import": _l("import"),
    "quota": _l("KSeF package"),
}
OUTCOMES = {"": _l("any"), "ok": _l("done"), "refused": _l("refused"), "failed": _l("error")}


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
    separator = "," if request.args.get("separator") == "comma" else ";"
    data = accounts.audit_csv(actor, tenant, _narrow(), separator=separator)
    return download(data, f"audit-{kind}-{tenant_id}.csv", "text/csv")
