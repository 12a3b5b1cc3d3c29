"""What every page shares: the blueprint, CSRF, sign-in, the layout's header and navigation,
and the rules of every form (POST-redirect-GET, typed values kept, errors beside fields)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import Response as FlaskResponse
from werkzeug.wrappers import Response

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.api.auth import current_actor, has_session
from integration.core import i18n
from integration.core.appctx import current_settings
from integration.core.errors import DomainError, Unauthenticated, ValidationFailed
from integration.core.i18n import _, ngettext
from integration.invoices import archive
from integration.web import labels

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)
_CSRF_KEY = "csrf"
PAGE_ROWS = 100
Page = Response | tuple[str, int] | str
P = ParamSpec("P")
R = TypeVar("R")


def csrf_token() -> str:
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[_CSRF_KEY] = token
    return token


_LARGE_UPLOADS = ("web.invoices", "web.licence_panel")  # archives and packages


@bp.before_request
def _check_csrf() -> None:
    if request.endpoint in _LARGE_UPLOADS:
        request.max_content_length = archive.MAX_ARCHIVE_BYTES
    if request.method == "POST":
        sent, expected = request.form.get("csrf_token", ""), session.get(_CSRF_KEY)
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            abort(400, _("The form has expired; reload the page and try again."))


_WHILE_PASSWORD_GIVEN = frozenset(
    {"web.password", "web.logout", "web.login", "web.static", "web.language"}
)


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


def signed_in(view: Callable[P, R]) -> Callable[P, R | Response]:
    """The page for a signed-in person; anyone else is sent to sign in."""

    @wraps(view)
    def page(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        try:
            g.actor = current_actor()
        except Unauthenticated:
            return redirect(url_for("web.login", next=request.path))
        return view(*args, **kwargs)

    return page


def actor() -> Actor:
    found: Actor = g.actor
    return found


# ---------------------------------------------------------------------------- form rules
@dataclass
class Outcome:
    """What a form's POST came to: a redirect (done) or a page to show again with errors."""

    error: str | None = None
    fields: dict[str, str] | None = None


def field_errors(exc: DomainError) -> dict[str, str]:
    """Each invalid field's message in the page's language, to show beside the field."""
    found = {
        str(e["field"]): i18n.translate(str(e["message"]))
        for e in exc.extensions.get("errors") or []
    }
    if isinstance(exc.extensions.get("field"), str):  # a conflict that names its field
        found.setdefault(exc.extensions["field"], i18n.translate(exc.detail))
    return found


def readable(exc: DomainError) -> str:
    """The problem's detail and, when it has more to say, its first ten field errors."""
    reasons = exc.extensions.get("errors") or []
    if isinstance(exc, ValidationFailed) and reasons:
        listed = "; ".join(
            f"{labels.field(e['field'])}: {i18n.translate(e['message'])}" for e in reasons[:10]
        )
        more = (
            " " + ngettext("(and %(num)d more)", "(and %(num)d more)", len(reasons) - 10)
            if len(reasons) > 10
            else ""
        )
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in reasons)
        if exc.detail and exc.detail != summary:  # a detail of its own says what it is about
            return f"{i18n.translate(exc.detail)} — {listed}{more}"
        return listed + more
    return i18n.translate(exc.detail)


def act(
    perform: Callable[[str], str | Response | None], *, to: str | None = None
) -> Outcome | Response:
    """Run a form's action (POST only). Done: the notice is flashed and the browser is sent
    to the page again with GET (303), so a reload repeats nothing. Refused: the page is shown
    again with what was typed and the errors beside their fields."""
    try:
        result = perform(request.form.get("action", ""))
    except DomainError as exc:
        return Outcome(error=readable(exc), fields=field_errors(exc))
    if isinstance(result, Response):
        return result
    if result:
        flash(result, "notice")
    return redirect(to or request.full_path.rstrip("?"), 303)


def show(template: str, outcome: Outcome | Response | None = None, **context: object) -> Page:
    """Render a page; a refused form comes back 422 with its error and typed values."""
    if not isinstance(outcome, Outcome):  # a redirect was returned before showing anything
        outcome = Outcome()
    html = render_template(
        template,
        error=outcome.error,
        errors=outcome.fields or {},
        typed=request.form if outcome.error else {},
        **context,
    )
    return (html, 422) if outcome.error else html


def download(data: bytes, name: str, mimetype: str) -> FlaskResponse:
    """A file the browser saves under ``name``."""
    return FlaskResponse(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 1_000_000) if raw.isdigit() and int(raw) > 0 else 1


def day(raw: str | None) -> date | None:
    """A date typed in a filter, or None when it is empty or not a date."""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def upload() -> bytes:
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise ValidationFailed.single("file", "choose a file")
    data: bytes = sent.read()
    return data


# ---------------------------------------------------------------------------- the layout
@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def _navigation(who: Actor) -> list[NavItem]:
    here = request.path
    items: list[tuple[str, str]] = [(_("Home"), url_for("web.overview"))]
    for bureau_id in who.bureau_roles:
        items.append(
            (_("Invoices of all clients"), url_for("web.bureau_invoices", bureau_id=bureau_id))
        )
        items.append((_("Licence and package"), url_for("web.licence_panel", bureau_id=bureau_id)))
        if who.administers_bureau(bureau_id):
            items.append((_("People"), url_for("web.people", kind="bureaus", tenant_id=bureau_id)))
            items.append(
                (_("Audit trail"), url_for("web.audit_trail", kind="bureaus", tenant_id=bureau_id))
            )
    if who.is_platform_admin:
        items.append((_("Platform"), url_for("web.platform_home")))
    return [
        NavItem(label, url, here == url or (url != "/" and here.startswith(url)))
        for label, url in items
    ]


def mail_page_open() -> bool:
    return current_settings().show_outbox


def _tenant_line(who: Actor) -> str:
    names = [accounts.get_bureau(who, bureau_id).name for bureau_id in who.bureau_roles]
    if not names:
        names = [c.name for c in accounts.my_clients(who)[:3]]
    return ", ".join(names)


@bp.app_context_processor
def _layout() -> dict[str, object]:
    context: dict[str, object] = {
        "csrf_token": csrf_token,
        "labels": labels,
        "me": None,
        "mail_page_open": mail_page_open,
    }
    if request.blueprint != "web" or not has_session():
        return context
    try:
        who = g.get("actor") or current_actor()
    except Unauthenticated:
        return context
    if who.must_change_password:
        context["me"] = who
        return context
    context.update(me=who, navigation=_navigation(who), tenant_line=_tenant_line(who))
    return context


@bp.app_template_global()
def notices() -> list[str]:
    return [str(m) for m in get_flashed_messages(category_filter=["notice"])]
