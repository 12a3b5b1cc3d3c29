"""The platform's pages: bureaus, licences, packages and trials (the platform admin), the
trial sign-up of a new bureau, and the control panel that activates an installation."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.api.auth import current_actor
from integration.core.errors import DomainError, Forbidden, Text, Unauthenticated, ValidationFailed
from integration.core.i18n import _
from integration.core.i18n import lazy as _l
from integration.licensing import activation
from integration.licensing import service as licensing
from integration.quota import service as quota
from integration.web.common import (
    Outcome,
    Page,
    act,
    actor,
    bp,
    field_errors,
    readable,
    show,
    signed_in,
)

FIELD_NAMES = {
    "licensee_nip": _l("Licensee's NIP"),
    "paid": _l("Contract paid"),
    "modules": _l("Modules"),
    "seats": _l("Seats (companies)"),
    "installation": _l("Installation"),
}
PLANS = {
    "start": _l("Start: sending and cost invoices"),
    "biuro": _l("Biuro: and clients who send themselves"),
    "biuro_pro": _l("Biuro Pro: and batch packages"),
    "enterprise": _l("Enterprise: everything, with API access"),
}
KINDS = {"application": _l("application (perpetual)"), "support": _l("support and updates")}


def _platform_admin(who: Actor) -> None:
    if not who.is_platform_admin:
        raise Forbidden("only the platform admin sees the platform's pages")


@bp.route("/platform", methods=["GET", "POST"])
@signed_in
def platform_home() -> Page:
    """Bureaus with their package and plan; create a bureau, issue a licence, top up."""
    who = actor()
    _platform_admin(who)
    outcome: Outcome | Response | None = None
    if request.method == "POST":
        outcome = act(lambda action: _action(who, action))
        if isinstance(outcome, Response):
            return outcome
    bureaus = accounts.list_bureaus(who, per_page=200).items
    return show(
        "platform/home.html",
        outcome,
        bureaus=bureaus,
        balances={b.id: quota.statement(who, b.id, limit=1) for b in bureaus},
        subscriptions=licensing.subscriptions(who, [b.id for b in bureaus]),
        plans=PLANS,
        kinds=KINDS,
    )


def _number(name: str, low: int, high: int) -> int:
    raw = request.form.get(name, "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationFailed.single(
            name, Text("a whole number from %(low)d to %(high)d", low=low, high=high)
        )
    return int(raw)


def _bureau() -> int:
    return _number("bureau_id", 1, 2**31 - 1)


def _action(who: Actor, action: str) -> str:
    if action == "bureau":
        made = accounts.create_bureau(
            who, nip=request.form.get("nip", ""), name=request.form.get("name", "")
        )
        return _("The bureau %(name)s is created.", name=made.name)
    if action == "licence":
        licence = licensing.issue_licence(
            who,
            kind=request.form.get("kind", ""),
            plan=request.form.get("plan", ""),
            seats=_number("seats", 1, 100_000),
            bureau_id=_bureau(),
        )
        return _("Licence issued: %(number)s", number=licence.number)
    if action == "plan":
        licensing.change_plan(who, _bureau(), request.form.get("plan", ""))
        return _("The plan is changed.")
    if action == "delete_trial":
        licensing.delete_trial_account(who, _bureau())
        return _("The trial account and everything of it is deleted.")
    if action == "top_up":
        balance = quota.top_up(
            who,
            _bureau(),
            amount=_number("amount", 1, 10_000_000),
            reference=request.form.get("reference", "").strip(),
        )
        return _("The package is topped up; %(balance)d operations left.", balance=balance)
    raise ValidationFailed.single("action", "unknown action")


@bp.route("/trial", methods=["GET", "POST"])
def trial() -> Page:
    """A new bureau signs up for 30 days of the plan it chooses (fixed for the trial); its
    admin gets an e-mail with a link to set the password."""
    if request.method == "GET":
        return render_template("platform/trial.html", plans=PLANS, error=None, errors={}, typed={})
    form = request.form
    try:
        licensing.start_trial(
            bureau_nip=form.get("bureau_nip", ""),
            bureau_name=form.get("bureau_name", ""),
            email=form.get("email", ""),
            first_name=form.get("first_name", ""),
            last_name=form.get("last_name", ""),
            plan=form.get("plan", ""),
        )
    except DomainError as exc:
        page = render_template(
            "platform/trial.html",
            plans=PLANS,
            error=readable(exc),
            errors=field_errors(exc),
            typed=form,
        )
        return page, 422
    return redirect(url_for("web.trial_started"), 303)


@bp.get("/trial/started")
def trial_started() -> str:
    return render_template("platform/trial_started.html")


@bp.route("/platform/activation", methods=["GET", "POST"])
def activation_panel() -> Page:
    try:
        who = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    key = request.form.get("installation_key", "").strip()
    check = registration = error = None
    if request.method == "POST":
        try:
            check = activation.check_installation(who, key)
            if request.form.get("action") == "generate":
                registration = activation.activate(who, key)
        except DomainError as exc:
            error = readable(exc)
    page = render_template(
        "platform/activation.html",
        key=key,
        check=check,
        registration=registration,
        error=error,
        names=FIELD_NAMES,
    )
    return (page, 422) if error else page
