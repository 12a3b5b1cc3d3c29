"""Signing in and out, passwords, invitations and the choice of language."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from flask import Response, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts import service as accounts
from integration.api.auth import current_actor, sign_in, sign_out
from integration.api.throttle import TooManyAttempts
from integration.core import i18n
from integration.core.errors import DomainError, Unauthenticated
from integration.core.i18n import _
from integration.web.common import Page, actor, bp, field_errors, readable, signed_in


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or ``/\\host``,
    which browsers read as another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("web.overview")
    parts = urlsplit(target)
    if parts.netloc or parts.scheme or any(ord(ch) < 32 for ch in target):
        return url_for("web.overview")
    return parts.path


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    if request.method == "GET":
        return render_template("session/login.html", error=None, email="")
    email = request.form.get("email", "")
    try:
        if sign_in(email, request.form.get("password", "")):
            who = current_actor()
            if who.user_id is not None:
                i18n.remember(accounts.preferred_language(who.user_id))
            return redirect(_safe_next(request.args.get("next")), 303)
    except TooManyAttempts as exc:
        minutes = max(1, round(exc.retry_after / 60))
        message = _(
            "Too many failed sign-in attempts. For your security signing in is blocked; "
            "try again in %(minutes)d min.",
            minutes=minutes,
        )
        page = render_template("session/login.html", error=message, email=email)
        return Response(page, status=429, headers=exc.headers())
    page = render_template("session/login.html", error=_("Wrong e-mail or password."), email=email)
    return page, 401


@bp.post("/logout")
def logout() -> BaseResponse:
    sign_out()
    return redirect(url_for("web.login"), 303)


@bp.post("/language")
def language() -> BaseResponse:
    """The header's language switch: kept on the person's account when signed in."""
    choice = request.form.get("language")
    choice = choice if choice in i18n.LANGUAGES else None
    with contextlib.suppress(Unauthenticated, DomainError):  # before signing in: the session's
        accounts.set_language(current_actor(), choice)
    i18n.remember(choice)
    return redirect(_safe_next(request.form.get("back")), 303)


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password() -> Page:
    """Change one's password (at once, after signing in with a password one was given)."""
    if request.method == "GET":
        return render_template("session/password.html", error=None, errors={})
    try:
        accounts.change_password(
            actor(),
            current=request.form.get("current_password", ""),
            new=request.form.get("new_password", ""),
        )
    except DomainError as exc:
        page = render_template(
            "session/password.html", error=readable(exc), errors=field_errors(exc)
        )
        return page, 422
    flash(_("Your password was changed."), "notice")
    return redirect(url_for("web.overview"), 303)


_SETUP_KEY = "setup-token"


@bp.route("/setup-password", methods=["GET", "POST"])
def setup_password() -> Page:
    """The first password. The e-mail's link carries the token after ``#`` (never sent to a
    server); the page's script puts it into the form, which posts it. A link of an older
    e-mail (``?token=``) is taken into the session at once and the address cleaned."""
    legacy = request.args.get("token")
    if legacy:
        session[_SETUP_KEY] = legacy[:200]
        return redirect(url_for("web.setup_password"), 303)
    known = isinstance(session.get(_SETUP_KEY), str)
    if request.method == "GET":
        return render_template("session/setup_password.html", code_known=known, error=None)
    token = request.form.get("token") or str(session.get(_SETUP_KEY) or "")
    try:
        accounts.complete_password_setup(token, request.form.get("password", ""))
    except DomainError as exc:
        page = render_template("session/setup_password.html", code_known=known, error=readable(exc))
        return page, 422
    session.pop(_SETUP_KEY, None)
    flash(_("Your password is set; sign in with it."), "notice")
    return redirect(url_for("web.login"), 303)


@bp.route("/invitations", methods=["GET", "POST"])
def invitation() -> Page:
    """Accept an invitation: the e-mail's link carries the code after ``#``."""
    try:
        who = current_actor()
    except Unauthenticated:
        who = None
    if request.method == "GET" or who is None:
        return render_template("session/invitation.html", signed_in=who is not None, error=None)
    try:
        accounts.accept_invitation(who, request.form.get("token", ""))
    except DomainError as exc:
        page = render_template("session/invitation.html", signed_in=True, error=readable(exc))
        return page, 422
    flash(_("Invitation accepted."), "notice")
    return redirect(url_for("web.overview"), 303)
