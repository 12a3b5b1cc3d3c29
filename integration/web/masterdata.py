"""A client's counterparties and products: learnt from invoices, entered and edited here,
moved as spreadsheets."""

from __future__ import annotations

from flask import Response, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.core.errors import ValidationFailed
from integration.core.i18n import _
from integration.core.i18n import lazy as _l
from integration.licensing import service as licensing
from integration.masterdata import service as masterdata
from integration.web.common import Outcome, Page, act, actor, bp, download, show, signed_in, upload

KINDS = {"counterparties": _l("Counterparties"), "products": _l("Products and services")}
SOURCES = {
    "invoice": _l("an invoice"),
    "manual": _l("entered here"),
    "file": _l("an imported file"),
}
_FILE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.route("/clients/<int:client_id>/master-data", methods=["GET", "POST"])
@signed_in
def master_data(client_id: int) -> Page:
    who = actor()
    client = accounts.get_client(who, client_id)
    kind = request.values.get("kind", "counterparties")
    if kind not in KINDS:
        kind = "counterparties"
    outcome: Outcome | BaseResponse | None = None
    if request.method == "POST":
        outcome = act(
            lambda action: _action(who, client_id, kind, action),
            to=url_for("web.master_data", client_id=client_id, kind=kind),
        )
        if isinstance(outcome, BaseResponse):
            return outcome
    search = request.args.get("q", "").strip()
    page = masterdata.list_records(who, client_id, kind, search=search or None, per_page=200)
    return show(
        "masterdata/records.html",
        outcome,
        client=client,
        kind=kind,
        kinds=KINDS,
        columns=masterdata.COLUMNS[kind],
        sources=SOURCES,
        page=page,
        search=search,
        state=licensing.states_for([client]).get(client.id),
    )


def _action(who: Actor, client_id: int, kind: str, action: str) -> str:
    values = {c: request.form.get(c, "") for c in masterdata.COLUMNS[kind] if c in request.form}
    if action == "add":
        row = masterdata.add_record(who, client_id, kind, values)
        return _("%(name)s added.", name=row.name)
    if action in ("save", "delete"):
        record_id = request.form.get("record_id", "")
        if not record_id.isdigit():
            raise ValidationFailed.single("record_id", "choose an entry")
        if action == "delete":
            masterdata.remove_record(who, client_id, kind, int(record_id))
            return _("Entry deleted.")
        row = masterdata.change_record(who, client_id, kind, int(record_id), values)
        return _("%(name)s saved.", name=row.name)
    if action == "import":
        sent = request.files.get("file")
        name = (sent.filename or "") if sent is not None else ""
        fmt = "xlsx" if name.lower().endswith(".xlsx") else "csv"
        result = masterdata.import_file(who, client_id, kind, fmt, upload())
        return _(
            "Imported: %(created)d new, %(updated)d updated.",
            created=result.created,
            updated=result.updated,
        )
    raise ValidationFailed.single("action", "unknown action")


@bp.get("/clients/<int:client_id>/master-data/<kind>.<any(csv, xlsx):fmt>")
@signed_in
def master_data_file(client_id: int, kind: str, fmt: str) -> Response:
    separator = "," if request.args.get("separator") == "comma" else ";"
    data = masterdata.export(actor(), client_id, kind, fmt, separator=separator)
    return download(data, f"{kind}.{fmt}", _FILE_TYPES[fmt])
