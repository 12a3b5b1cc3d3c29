"""Sign-in, password setup and the overview page."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict
from datetime import date

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.actor import SCOPES, Actor
from integration.accounts.models import Role
from integration.api.auth import current_actor, has_session, sign_in, sign_out
from integration.api.throttle import TooManyAttempts
from integration.core.errors import DomainError, Forbidden, Unauthenticated, ValidationFailed
from integration.credentials import service as credentials
from integration.invoices import archive, inbox, packages, registers
from integration.invoices import service as invoice_service
from integration.invoices.models import Channel
from integration.licensing import service as licensing
from integration.masterdata import service as masterdata
from integration.permissions import service as permissions
from integration.quota import service as quota

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)
_CSRF_KEY = "csrf"


def csrf_token() -> str:
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[_CSRF_KEY] = token
    return token


@bp.before_request
def _check_csrf() -> None:
    if request.endpoint in ("web.invoices", "web.licence_panel"):  # archives, packages: larger
        request.max_content_length = archive.MAX_ARCHIVE_BYTES
    if request.method == "POST":
        sent, expected = request.form.get("csrf_token", ""), session.get(_CSRF_KEY)
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            abort(400, "the form has expired; reload the page and try again")


_WHILE_PASSWORD_GIVEN = frozenset({"web.password", "web.logout", "web.login", "web.static"})


@bp.before_request
def _password_changed_first() -> Response | None:
    """A person signed in with a password they were given changes it before anything else."""
    if request.endpoint in _WHILE_PASSWORD_GIVEN or not has_session():
        return None
    try:
        actor = current_actor()
    except Unauthenticated:
        return None
    if actor.must_change_password:
        return redirect(url_for("web.password"))
    return None


def readable(exc: DomainError) -> str:
    """The problem's detail and, when it has more to say, its first ten field errors."""
    reasons = exc.extensions.get("errors") or []
    listed = "; ".join(f"{e['field']}: {e['message']}" for e in reasons[:10])
    if not listed or listed == exc.detail:
        return exc.detail
    more = f" (and {len(reasons) - 10} more)" if len(reasons) > 10 else ""
    return f"{exc.detail} — {listed}{more}"


def _posted(act: Callable[[str], str]) -> tuple[str | None, str | None]:
    """(notice, error) of a page's form: ``act`` gets the button's action, on POST only."""
    if request.method != "POST":
        return None, None
    try:
        return act(request.form.get("action", "")), None
    except DomainError as exc:
        return None, readable(exc)


@bp.app_context_processor
def _inject() -> dict[str, object]:
    return {"csrf_token": csrf_token}


@bp.get("/")
def overview() -> Response | str:
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    clients = accounts.my_clients(actor)
    connected = {
        row.client_id: row
        for bureau_id in actor.bureau_roles
        for row in credentials.bureau_overview(actor, bureau_id)
    }
    return render_template(
        "overview.html",
        clients=clients,
        connected=connected,
        actor=actor,
        states=licensing.states_for(clients),
        notice=request.args.get("notice"),
        error=request.args.get("error"),
    )


@bp.post("/clients/<int:client_id>/registration")
def client_registration(client_id: int) -> Response:
    """The registration prompt's buttons: register now, remind me later, do not register."""
    try:
        actor = current_actor()
        state = licensing.decide(
            actor,
            client_id,
            action=request.form.get("action", ""),
            display_name=request.form.get("display_name") or None,
        )
    except Unauthenticated:
        return redirect(url_for("web.login"))
    except DomainError as exc:
        return redirect(url_for("web.overview", error=exc.detail))
    notice = {
        "registered": "The client is registered against the licence.",
        "grace": f"Reminder set: register within {state.days_left} days.",
        "read_only": "The client is not registered and is now read-only.",
    }[state.state]
    if state.summary is not None:
        seats = state.summary
        notice += (
            f" Seats in the licence: {seats['seats']}; clients registered: "
            f"{seats['registered']}; clients active in the current period: {seats['active']}."
        )
    return redirect(url_for("web.overview", notice=notice))


@bp.route("/bureaus/<int:bureau_id>/licence", methods=["GET", "POST"])
def licence_panel(bureau_id: int) -> Response | tuple[str, int] | str:
    """The licence panel: numbers, seats, reminders; enter a number; check the status."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    error = notice = None
    try:
        if request.method == "POST" and request.form.get("action") == "import":
            moved = archive.import_bureau(actor, bureau_id, _upload())
            notice = (
                f"Imported {moved.clients_created} new and {moved.clients_updated} existing "
                f"client(s), {moved.invoices_created} invoice(s) "
                f"({moved.invoices_skipped} were already here) and "
                f"{moved.master_data_rows} master-data row(s)."
            )
        elif request.method == "POST" and request.form.get("number"):
            licensing.enter_licence(actor, bureau_id, request.form["number"])
    except DomainError as exc:
        error = readable(exc)
    panel = licensing.licence_panel(actor, bureau_id)
    html = render_template(
        "licence.html",
        panel=panel,
        package=quota.statement(actor, bureau_id, limit=10),
        bureau_id=bureau_id,
        error=error,
        notice=notice,
        checked=request.method == "POST" and not error,
    )
    return (html, 422) if error else html


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("login.html", error=None)
    email = request.form.get("email", "")
    try:
        if sign_in(email, request.form.get("password", "")):
            return redirect(url_for("web.overview"))
    except TooManyAttempts as exc:
        minutes = max(1, round(exc.retry_after / 60))
        message = (
            "Zbyt wiele nieudanych prób logowania. Ze względów bezpieczeństwa logowanie jest "
            f"zablokowane; spróbuj ponownie za {minutes} min."
        )
        page = render_template("login.html", error=message, email=email)
        return Response(page, status=429, headers=exc.headers())
    return render_template("login.html", error="Nieprawidłowy e-mail lub hasło.", email=email), 401


@bp.route("/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int] | str:
    """Change one's password (at once, after signing in with a password one was given)."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    if request.method == "GET":
        return render_template("password.html", actor=actor, error=None)
    try:
        accounts.change_password(
            actor,
            current=request.form.get("current_password", ""),
            new=request.form.get("new_password", ""),
        )
    except DomainError as exc:
        return render_template("password.html", actor=actor, error=readable(exc)), 422
    return redirect(url_for("web.overview", notice="Hasło zostało zmienione."), 303)


@bp.post("/logout")
def logout() -> Response:
    sign_out()
    return redirect(url_for("web.login"))


_SETUP_KEY = "setup-token"


@bp.route("/setup-password", methods=["GET", "POST"])
def setup_password() -> Response | tuple[str, int] | str:
    """The first password. The e-mail's link carries the token after ``#`` (never sent to a
    server); the page's script puts it into the form, which posts it. A link of an older
    e-mail (``?token=``) is taken into the session at once and the address cleaned."""
    legacy = request.args.get("token")
    if legacy:
        session[_SETUP_KEY] = legacy[:200]
        return redirect(url_for("web.setup_password"), 303)
    known = isinstance(session.get(_SETUP_KEY), str)
    if request.method == "GET":
        return render_template("setup_password.html", code_known=known, error=None)
    token = request.form.get("token") or str(session.get(_SETUP_KEY) or "")
    try:
        accounts.complete_password_setup(token, request.form.get("password", ""))
    except DomainError as exc:
        page = render_template("setup_password.html", code_known=known, error=readable(exc))
        return page, 422
    session.pop(_SETUP_KEY, None)
    return redirect(url_for("web.login"), 303)


@bp.route("/invitations", methods=["GET", "POST"])
def invitation() -> Response | tuple[str, int] | str:
    """Accept an invitation: the e-mail's link carries the code after ``#``."""
    try:
        actor = current_actor()
    except Unauthenticated:
        actor = None
    if request.method == "GET" or actor is None:
        return render_template("invitation.html", signed_in=actor is not None, error=None)
    try:
        accounts.accept_invitation(actor, request.form.get("token", ""))
    except DomainError as exc:
        return render_template("invitation.html", signed_in=True, error=readable(exc)), 422
    return redirect(url_for("web.overview", notice="Zaproszenie przyjęte."), 303)


@bp.route("/clients/<int:client_id>/ksef", methods=["GET", "POST"])
def ksef_credentials(client_id: int) -> Response | tuple[str, int] | str:
    """A client's KSeF credentials and grants: paste a token, sign a prepared file, delete;
    grant and revoke invoice rights."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    client = accounts.get_client(actor, client_id)
    error = notice = None
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "token":
                credentials.store_ksef_token(actor, client_id, request.form.get("token", ""))
                notice = "The KSeF token works and is stored."
            elif action == "prepare":
                prepared = credentials.prepare_signature(actor, client_id)
                return Response(
                    prepared.document,
                    mimetype="application/xml",
                    headers={
                        "Content-Disposition": f'attachment; filename="delegat-'
                        f'{client.nip}-{prepared.request_id}.xml"'
                    },
                )
            elif action == "signed":
                upload = request.files.get("file")
                if upload is None:
                    raise ValidationFailed.single("file", "choose the signed file")
                request_id = _request_id_of(upload.filename or "")
                credentials.upload_signed(
                    actor,
                    client_id,
                    request_id,
                    upload.read(),
                    mint_token=request.form.getlist("mint"),
                )
                notice = "Signed in to KSeF for this client."
            elif action == "delete":
                credentials.delete_credential(
                    actor, client_id, int(request.form.get("credential_id", "0"))
                )
                notice = "The credential was deleted and revoked in KSeF."
            elif action == "grant":
                made = permissions.grant(
                    actor,
                    client_id,
                    kind=request.form.get("kind", ""),
                    identifier=request.form.get("identifier", ""),
                    name=request.form.get("name", ""),
                    rights=request.form.getlist("rights"),
                    can_delegate=bool(request.form.get("can_delegate")),
                )
                notice = f"The grant to {made.grantee_name} is on its way to KSeF."
            elif action == "revoke":
                permissions.revoke(actor, client_id, int(request.form.get("grant_id", "0")))
                notice = "The grant is being revoked in KSeF."
            elif action == "pull":
                permissions.request_pull(actor, client_id)
                notice = "Reading the grants KSeF holds; reload in a moment."
        except DomainError as exc:
            error = exc.detail
    html = render_template(
        "ksef.html",
        client=client,
        error=error,
        notice=notice,
        rows=credentials.list_credentials(actor, client_id),
        grants=permissions.list_grants(actor, client_id),
        pull=permissions.pull_status(actor, client_id),
    )
    return (html, 422) if error else html


def _request_id_of(filename: str) -> int:
    """The signature request a file belongs to, from the name it was downloaded under."""
    match = re.search(r"-(\d+)(?:\.[A-Za-z]+)*\.xml$", filename)
    if match is None:
        raise ValidationFailed.single(
            "file",
            "upload the file under the name it was "
            "downloaded with (delegat-NIP-NUMBER.xml, signed)",
        )
    return int(match.group(1))


# ---------------------------------------------------------------------------- invoices
_DIRECTIONS = {"sales": "Sales invoices", "cost": "Cost invoices"}


@bp.route("/clients/<int:client_id>/invoices", methods=["GET", "POST"])
def invoices(client_id: int) -> Response | tuple[str, int] | str:
    """A client's invoices: send one, see where each stands, UPOs, sync, move as a ZIP."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    client = accounts.get_client(actor, client_id)
    direction = request.args.get("direction", "sales")
    if direction not in _DIRECTIONS:
        direction = "sales"
    notice, error = _posted(lambda action: _invoice_action(actor, client_id, action))
    search = _invoice_filter(direction)
    page = invoice_service.list_invoices(
        actor, client_id, page=_page_number(), per_page=PAGE_ROWS, **asdict(search)
    )
    html = render_template(
        "invoices.html",
        client=client,
        page=page,
        search=search,
        direction=direction,
        directions=_DIRECTIONS,
        state=licensing.states_for([client]).get(client.id),
        may_send=invoice_service.may_send(actor, client),
        sync=invoice_service.cost_sync_status(actor, client_id),
        error=error,
        notice=notice,
    )
    return (html, 422) if error else html


PAGE_ROWS = 100


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 1_000_000) if raw.isdigit() and int(raw) > 0 else 1


def _day(raw: str | None) -> date | None:
    """A date typed in a filter, or None when it is empty or not a date."""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _invoice_filter(direction: str | None) -> invoice_service.InvoiceFilter:
    """The search typed above an invoice list (a bad date is left out, not refused)."""
    return invoice_service.InvoiceFilter(
        direction=direction,
        q=request.args.get("q", "").strip()[:100] or None,
        issued_from=_day(request.args.get("issued_from")),
        issued_to=_day(request.args.get("issued_to")),
    )


def _upload() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed.single("file", "choose a file")
    data: bytes = upload.read()
    return data


def _invoice_action(actor: Actor, client_id: int, action: str) -> str:
    if action == "send":
        sent = invoice_service.submit(actor, client_id, _upload())
        if sent.channel == Channel.BATCH:
            return (
                f"Faktura {sent.number} ma załącznik (Zalacznik), który KSeF przyjmuje tylko "
                "w sesji wsadowej: zostanie wysłana paczką. Numer KSeF i UPO pojawią się tutaj."
            )
        return f"Invoice {sent.number} is queued for KSeF; its KSeF number and UPO follow."
    if action == "package":
        queued = packages.submit_package(actor, client_id, _upload())
        return f"{len(queued)} invoice(s) are queued for KSeF in one package."
    if action == "retry":
        again = invoice_service.retry(actor, client_id, int(request.form.get("invoice_id", "0")))
        return f"Invoice {again.number} is queued again."
    if action == "sync":
        invoice_service.start_cost_sync(actor, client_id)
        return "Downloading new cost invoices from KSeF; reload in a moment."
    if action == "import":
        result = archive.import_client(actor, client_id, _upload())
        return f"Imported {result.created} invoice(s); {result.skipped} were already here."
    raise ValidationFailed.single("action", "unknown action")


@bp.get("/clients/<int:client_id>/invoices/<int:invoice_id>/<any(xml, upo):kind>")
def invoice_document(client_id: int, invoice_id: int, kind: str) -> Response:
    data, name = invoice_service.document(current_actor(), client_id, invoice_id, kind)
    return Response(
        data,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/clients/<int:client_id>/invoices/archive.zip")
def invoice_archive(client_id: int) -> Response:
    data = archive.export_client(current_actor(), client_id)
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="invoices-{client_id}.zip"'},
    )


# ---------------------------------------------------------------------------- master data
_KINDS = {"counterparties": "Counterparties", "products": "Products and services"}
_LABELS = {
    "nip": "NIP",
    "name": "Name",
    "country": "Country",
    "address": "Address",
    "email": "E-mail",
    "unit": "Unit",
    "vat_rate": "VAT rate",
    "net_price": "Net price",
}
_SOURCES = {"invoice": "an invoice", "manual": "entered here", "file": "an imported file"}
_FILE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.route("/clients/<int:client_id>/master-data", methods=["GET", "POST"])
def master_data(client_id: int) -> Response | tuple[str, int] | str:
    """Counterparties and products: learnt from invoices, entered and edited here, moved."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    client = accounts.get_client(actor, client_id)
    kind = request.values.get("kind", "counterparties")
    if kind not in _KINDS:
        kind = "counterparties"
    notice, error = _posted(lambda action: _master_data_action(actor, client_id, kind, action))
    search = request.args.get("q", "").strip()
    page = masterdata.list_records(actor, client_id, kind, search=search or None, per_page=200)
    html = render_template(
        "master_data.html",
        client=client,
        kind=kind,
        kinds=_KINDS,
        columns=masterdata.COLUMNS[kind],
        labels=_LABELS,
        sources=_SOURCES,
        page=page,
        search=search,
        state=licensing.states_for([client]).get(client.id),
        error=error,
        notice=notice,
    )
    return (html, 422) if error else html


def _master_data_action(actor: Actor, client_id: int, kind: str, action: str) -> str:
    values = {c: request.form.get(c, "") for c in masterdata.COLUMNS[kind] if c in request.form}
    if action == "add":
        row = masterdata.add_record(actor, client_id, kind, values)
        return f"{row.name} added."
    if action in ("save", "delete"):
        record_id = request.form.get("record_id", "")
        if not record_id.isdigit():
            raise ValidationFailed.single("record_id", "choose an entry")
        if action == "delete":
            masterdata.remove_record(actor, client_id, kind, int(record_id))
            return "Entry deleted."
        row = masterdata.change_record(actor, client_id, kind, int(record_id), values)
        return f"{row.name} saved."
    if action == "import":
        upload = request.files.get("file")
        name = (upload.filename or "") if upload is not None else ""
        fmt = "xlsx" if name.lower().endswith(".xlsx") else "csv"
        result = masterdata.import_file(actor, client_id, kind, fmt, _upload())
        return f"Imported: {result.created} new, {result.updated} updated."
    raise ValidationFailed.single("action", "unknown action")


@bp.get("/clients/<int:client_id>/master-data/<kind>.<any(csv, xlsx):fmt>")
def master_data_file(client_id: int, kind: str, fmt: str) -> Response:
    data = masterdata.export(current_actor(), client_id, kind, fmt)
    return Response(
        data,
        mimetype=_FILE_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{kind}.{fmt}"'},
    )


@bp.get("/bureaus/<int:bureau_id>/export.zip")
def bureau_export(bureau_id: int) -> Response:
    data = archive.export_bureau(current_actor(), bureau_id)
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="bureau-{bureau_id}.zip"'},
    )


# ---------------------------------------------------------------------------- the bureau's inbox
_VIEWS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {  # label, direction, states
    "cost": ("Cost invoices received", "cost", ()),
    "sales": ("Sales invoices sent", "sales", ()),
    "attention": ("Needing attention", None, tuple(s.value for s in inbox.ATTENTION)),
}


@bp.get("/bureaus/<int:bureau_id>/invoices")
def bureau_invoices(bureau_id: int) -> Response | str:
    """Every client's invoices in one list: what arrived, what was sent, what failed."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    view = request.args.get("view", "cost")
    if view not in _VIEWS:
        view = "cost"
    client_id = request.args.get("client_id", "")
    _, direction, states = _VIEWS[view]
    search = request.args.get("q", "").strip()[:100]
    page = inbox.bureau_invoices(
        actor,
        bureau_id,
        direction=direction,
        states=states,
        client_id=int(client_id) if client_id.isdigit() else None,
        q=search or None,
        page=_page_number(),
        per_page=PAGE_ROWS,
    )
    clients = accounts.list_clients(actor, bureau_id, per_page=200).items
    return render_template(
        "bureau_invoices.html",
        bureau_id=bureau_id,
        page=page,
        view=view,
        views={key: label for key, (label, _, _) in _VIEWS.items()},
        clients=clients,
        client_id=int(client_id) if client_id.isdigit() else None,
        search=search,
        attention=sum(page.counts["sales"].get(s.value, 0) for s in inbox.ATTENTION),
    )


# ---------------------------------------------------------------------------- clients and people
@bp.post("/bureaus/<int:bureau_id>/clients")
def add_client(bureau_id: int) -> Response:
    """The overview's form: a new client company, then its registration prompt in the list."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    try:
        client = accounts.create_client(
            actor, bureau_id, nip=request.form.get("nip", ""), name=request.form.get("name", "")
        )
    except DomainError as exc:
        return redirect(url_for("web.overview", error=readable(exc)))
    return redirect(
        url_for(
            "web.overview",
            notice=f"{client.name} was added; register it against the licence below.",
        )
    )


_ROLE_LABELS = {
    Role.BUREAU_ADMIN: "bureau admin",
    Role.ACCOUNTANT: "accountant",
    Role.CLIENT_ADMIN: "client admin",
    Role.CLIENT_USER: "client user",
}


@bp.route("/<any(bureaus, clients):kind>/<int:tenant_id>/people", methods=["GET", "POST"])
def people(kind: str, tenant_id: int) -> Response | tuple[str, int] | str:
    """A bureau's or a client's people: invite one, change a role, deactivate, reactivate."""
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    tenant = (
        accounts.Tenant.bureau(tenant_id)
        if kind == "bureaus"
        else accounts.Tenant.client(tenant_id)
    )
    title = (
        accounts.get_bureau(actor, tenant_id).name
        if kind == "bureaus"
        else accounts.get_client(actor, tenant_id).name
    )
    issued: list[accounts.IssuedApiClient] = []
    notice, error = _posted(lambda action: _people_action(actor, tenant, action, issued))
    members = accounts.list_users(actor, tenant, per_page=200).items
    try:
        machines = accounts.list_api_clients(actor, tenant)
    except Forbidden:  # only the tenant's admins see its API clients
        machines = None
    html = render_template(
        "people.html",
        machines=machines,
        issued=issued[0] if issued else None,
        scopes=sorted(SCOPES),
        title=title,
        kind=kind,
        tenant_id=tenant_id,
        members=members,
        roles={role.value: _ROLE_LABELS[role] for role in sorted(tenant.roles)},
        labels={role.value: label for role, label in _ROLE_LABELS.items()},
        error=error,
        notice=notice,
    )
    return (html, 422) if error else html


def _people_action(
    actor: Actor, tenant: accounts.Tenant, action: str, issued: list[accounts.IssuedApiClient]
) -> str:
    form = request.form
    if action == "api-client":
        created = accounts.create_api_client(
            actor,
            tenant,
            name=form.get("name", ""),
            role=form.get("role", ""),
            scopes=form.getlist("scopes"),
        )
        issued.append(created)
        return f"API client {created.client.name} is created; copy its secret now."
    if action == "revoke-api-client":
        machine_id = form.get("api_client_id", "")
        if not machine_id.isdigit():
            raise ValidationFailed.single("api_client_id", "choose an API client")
        revoked = accounts.revoke_api_client(actor, tenant, int(machine_id))
        return f"API client {revoked.name} is revoked; its tokens stop working."
    if action == "invite":
        member = accounts.create_user(
            actor,
            tenant,
            email=form.get("email", ""),
            first_name=form.get("first_name", ""),
            last_name=form.get("last_name", ""),
            role=form.get("role", ""),
            pesel=form.get("pesel") or None,
        )
        return f"{member.user.email} is invited; an e-mail with a link follows."
    user_id = form.get("user_id", "")
    if not user_id.isdigit():
        raise ValidationFailed.single("user_id", "choose a person")
    if action == "role":
        member = accounts.update_user(actor, tenant, int(user_id), role=form.get("role", ""))
        return f"{member.user.email} is now {_ROLE_LABELS[member.role]}."
    if action in ("deactivate", "activate"):
        member = accounts.update_user(actor, tenant, int(user_id), is_active=action == "activate")
        state = "can sign in again" if member.is_active else "can no longer sign in"
        return f"{member.user.email} {state}."
    raise ValidationFailed.single("action", "unknown action")


@bp.get("/clients/<int:client_id>/invoices/register.<any(csv, xlsx):fmt>")
def invoice_register(client_id: int, fmt: str) -> Response:
    """The invoice list as on screen (direction and search), as a spreadsheet."""
    direction = request.args.get("direction")
    narrowed = _invoice_filter(direction if direction in _DIRECTIONS else None)
    data = registers.client_register(current_actor(), client_id, fmt, narrowed)
    return Response(
        data,
        mimetype=registers.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="invoices-{client_id}.{fmt}"'},
    )


# Pages of other areas add their routes to this blueprint (imported last: they import it).
from integration.web import audit, platform  # noqa: E402, F401
