"""The platform's control panel: a licensee checks an installation key against the contract
and generates the registration key."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from integration.api.auth import current_actor
from integration.core.errors import DomainError, Unauthenticated
from integration.licensing import activation
from integration.web.views import bp, readable

FIELD_NAMES = {
    "licensee_nip": "NIP licencjobiorcy",
    "paid": "Umowa opłacona",
    "modules": "Moduły",
    "seats": "Liczba stanowisk (firm)",
    "installation": "Stanowisko (instalacja)",
}


@bp.route("/platform/activation", methods=["GET", "POST"])
def activation_panel() -> Response | tuple[str, int] | str:
    try:
        actor = current_actor()
    except Unauthenticated:
        return redirect(url_for("web.login"))
    key = request.form.get("installation_key", "").strip()
    check = registration = error = None
    if request.method == "POST":
        try:
            check = activation.check_installation(actor, key)
            if request.form.get("action") == "generate":
                registration = activation.activate(actor, key)
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
