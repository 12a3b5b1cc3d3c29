"""The outbox page of the demo and of development: the e-mails the service wrote, so that an
invited person's welcome link can be followed without a mail server. Off in production
(``DELEGAT_SHOW_OUTBOX``)."""

from __future__ import annotations

from flask import abort, render_template

from integration.mail import outbox
from integration.web.common import bp, mail_page_open


@bp.get("/mail")
def outbox_page() -> str:
    if not mail_page_open():
        abort(404)
    return render_template("mail/outbox.html", messages=outbox.latest(100))
