"""Home pages by role, client companies, their registration and how the bureau and a client
work together (who sends the client's invoices)."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, request, session, url_for
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.core.clock import now
from integration.core.errors import ValidationFailed
from integration.core.i18n import _
from integration.credentials import service as credentials
from integration.invoices import inbox
from integration.invoices import service as invoice_service
from integration.licensing import service as licensing
from integration.permissions import service as permissions
from integration.quota import service as quota
from integration.web.common import (
    Outcome,
    Page,
    act,
    actor,
    bp,
    page_number,
    show,
    signed_in,
)

ATTENTION_ROWS = 20


@bp.route("/", methods=["GET", "POST"])
@signed_in
def overview() -> Page:
    """The bureau's dashboard for its people; a client's home for the client's people."""
    who = actor()
    outcome: Outcome | Response | None = None
    if request.method == "POST":
        outcome = act(lambda action: _home_action(who, action), to=url_for("web.overview"))
        if isinstance(outcome, Response):
            return outcome
    if who.is_platform_admin and not who.bureau_roles and not who.client_roles:
        return redirect(url_for("web.platform_home"))
    if who.bureau_roles:
        return show("clients/home_bureau.html", outcome, **_bureau_home(who))
    return show("clients/home_client.html", outcome, **_client_home(who))


CLIENT_ROWS = 50
_STEPS_DONE = "first-steps-done"


def _bureau_home(who: Actor) -> dict[str, object]:
    """Per bureau: the package, what needs attention, the first steps while they are not all
    done, and one page of its clients (searched by name or NIP, those needing attention first).
    Everything is read for the page shown, never for every client."""
    since = accounts.previous_visit(who) or now() - timedelta(days=7)
    search = request.args.get("q", "").strip()[:100]
    number = page_number()
    bureaus = []
    for bureau_id in who.bureau_roles:
        listed = inbox.client_page(
            who, bureau_id, q=search or None, page=number, per_page=CLIENT_ROWS
        )
        shown = [c.id for c in listed.items]
        connected = {
            row.client_id: row for row in credentials.bureau_overview(who, bureau_id, shown)
        }
        admin = who.administers_bureau(bureau_id)
        bureaus.append(
            {
                "bureau": accounts.get_bureau(who, bureau_id),
                "clients": listed.items,
                "listed": listed,
                "connected": connected,
                "activity": inbox.activity(who, bureau_id, since=since, of=shown),
                "arrived": inbox.arrived_since(who, bureau_id, since),
                "states": licensing.states_for(listed.items),
                "package": quota.statement(who, bureau_id, limit=1),
                "attention": inbox.bureau_invoices(
                    who,
                    bureau_id,
                    states=inbox.ATTENTION,
                    direction="sales",
                    per_page=ATTENTION_ROWS,
                    counted=False,
                ),
                "steps": _first_steps(who, bureau_id) if admin else [],
                "admin": admin,
            }
        )
    return {"bureaus": bureaus, "since": since, "search": search, "page": number}


def _first_steps(who: Actor, bureau_id: int) -> list[tuple[str, bool, str]]:
    """A new bureau's checklist; each step ticks itself off when done (and once all are, the
    list is not worked out again in this session). It looks at the first clients only."""
    if session.get(_STEPS_DONE):
        return []
    clients = list(inbox.client_page(who, bureau_id, per_page=20).items)
    first = clients[0].id if clients else None
    states = licensing.states_for(clients)
    connected = credentials.bureau_overview(who, bureau_id, [c.id for c in clients])
    granted = permissions.bureau_has_active_grant(who, bureau_id)
    sent = inbox.has_accepted_sales(who, bureau_id)
    steps = [
        (_("Add your first client company"), bool(clients), "#add-client"),
        (
            _("Register the client against the licence"),
            any(st.registration == "registered" for st in states.values()),
            "#clients",
        ),
        (
            _("Connect the client to KSeF (a KSeF token or a signature)"),
            any(row.working for row in connected),
            url_for("web.ksef_credentials", client_id=first) if first else "#add-client",
        ),
        (
            _("Grant a right in KSeF"),
            granted,
            url_for("web.ksef_credentials", client_id=first) + "#grants" if first else "#",
        ),
        (
            _("Send the first invoice"),
            sent,
            url_for("web.invoices", client_id=first) + "#send" if first else "#",
        ),
    ]
    if all(done for _text, done, _link in steps):
        session[_STEPS_DONE] = True
        return []
    return steps


def _client_home(who: Actor) -> dict[str, object]:
    companies = []
    for client in accounts.my_clients(who):
        companies.append(
            {
                "client": client,
                "bureau": client.bureau_id,
                "may_send": invoice_service.may_send(who, client),
                "admin": who.administers_client(client),
                "state": licensing.states_for([client]).get(client.id),
                "sales": invoice_service.list_invoices(
                    who, client.id, page=1, per_page=5, direction="sales"
                ),
                "costs": invoice_service.list_invoices(
                    who, client.id, page=1, per_page=5, direction="cost"
                ),
            }
        )
    return {"companies": companies}


def _home_action(who: Actor, action: str) -> str:
    if action != "retry":
        raise ValidationFailed.single("action", "unknown action")
    chosen = [int(v) for v in request.form.getlist("invoice") if v.isdigit()][:ATTENTION_ROWS]
    if not chosen:
        raise ValidationFailed.single("invoice", "choose the invoices to send again")
    done, refused = 0, []
    for pair in request.form.getlist("invoice_of"):
        client_id, _sep, invoice_id = pair.partition(":")
        if not (client_id.isdigit() and invoice_id.isdigit()) or int(invoice_id) not in chosen:
            continue
        try:
            invoice_service.retry(who, int(client_id), int(invoice_id))
            done += 1
        except Exception as exc:
            refused.append(str(getattr(exc, "detail", exc)))
    if refused and not done:
        raise ValidationFailed.single("invoice", refused[0])
    return _("Queued again: %(done)d.", done=done) + (
        " " + _("Not queued: %(count)d.", count=len(refused)) if refused else ""
    )


# ---------------------------------------------------------------------------- clients
@bp.post("/clients/<int:client_id>/registration")
@signed_in
def client_registration(client_id: int) -> Response:
    """The registration prompt's buttons: register now, remind me later, do not register."""

    def decide(action: str) -> str:
        state = licensing.decide(
            actor(),
            client_id,
            action=action,
            display_name=request.form.get("display_name") or None,
        )
        notice = {
            "registered": _("The client is registered against the licence."),
            "grace": _("Reminder set: register within %(days)d days.", days=state.days_left or 0),
            "read_only": _("The client is not registered and is now read-only."),
        }[state.state]
        if state.summary is not None:
            notice += " " + _(
                "Seats in the licence: %(seats)d; clients registered: %(registered)d; clients "
                "active in the current period: %(active)d.",
                **state.summary,
            )
        return notice

    return _done_or_home(act(decide, to=url_for("web.overview")))


@bp.post("/bureaus/<int:bureau_id>/clients")
@signed_in
def add_client(bureau_id: int) -> Page:
    """The dashboard's form: a new client company, then its registration prompt in the list."""

    def add(_action: str) -> str:
        client = accounts.create_client(
            actor(), bureau_id, nip=request.form.get("nip", ""), name=request.form.get("name", "")
        )
        return _("%(name)s was added; register it against the licence below.", name=client.name)

    outcome = act(add, to=url_for("web.overview"))
    if isinstance(outcome, Response):
        return outcome
    return show("clients/home_bureau.html", outcome, **_bureau_home(actor()))


def _done_or_home(outcome: Outcome | Response) -> Response:
    if isinstance(outcome, Response):
        return outcome
    flash(outcome.error or "", "error")
    return redirect(url_for("web.overview"), 303)


@bp.route("/clients/<int:client_id>/settings", methods=["GET", "POST"])
@signed_in
def client_settings(client_id: int) -> Page:
    """How the bureau and the client work together: the bureau sends on the client's grants,
    or the client issues and sends its invoices itself and the bureau reads them. The bureau
    decides; the client's people see the decision."""
    who = actor()
    client = accounts.get_client(who, client_id)
    outcome: Outcome | Response | None = None
    if request.method == "POST":

        def save(action: str) -> str:
            if action == "name":
                accounts.update_client(who, client_id, name=request.form.get("name", ""))
                return _("The name is saved.")
            if action != "scenario":
                raise ValidationFailed.single("action", "unknown action")
            scenario = request.form.get("scenario", "")
            if scenario not in ("bureau", "client"):
                raise ValidationFailed.single("scenario", "choose how you work together")
            accounts.update_client(who, client_id, client_may_send=scenario == "client")
            if scenario == "client":
                return _("The client may now issue and send its invoices itself.")
            return _("The bureau sends the client's invoices; the client's people only read.")

        outcome = act(save)
        if isinstance(outcome, Response):
            return outcome
    return show(
        "clients/settings.html",
        outcome,
        client=client,
        bureau=accounts.get_bureau(who, client.bureau_id)
        if who.sees_bureau(client.bureau_id)
        else None,
        decides=who.works_for_bureau(client.bureau_id),
        renames=who.works_for_bureau(client.bureau_id) or who.administers_client(client),
        state=licensing.states_for([client]).get(client.id),
    )
