"""A client's access to KSeF: credentials (a KSeF token, a signed file) and the rights
granted in KSeF over its invoices, followed live."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request
from werkzeug.wrappers import Response as BaseResponse

from integration.accounts import service as accounts
from integration.accounts.actor import Actor
from integration.accounts.models import ClientCompany
from integration.core import i18n
from integration.core.errors import ValidationFailed
from integration.core.i18n import _
from integration.credentials import service as credentials
from integration.permissions import service as permissions
from integration.permissions.models import Grant
from integration.web import labels
from integration.web.common import Outcome, Page, act, actor, bp, show, signed_in


def _manages(who: Actor, client: ClientCompany) -> bool:
    """Who stores and deletes the client's credentials (the server checks it again)."""
    return who.works_for_bureau(client.bureau_id) or who.administers_client(client)


@bp.route("/clients/<int:client_id>/ksef", methods=["GET", "POST"])
@signed_in
def ksef_credentials(client_id: int) -> Page:
    """A client's KSeF credentials and grants: paste a token, sign a prepared file, delete;
    grant and revoke invoice rights."""
    who = actor()
    client = accounts.get_client(who, client_id)
    outcome: Outcome | BaseResponse | None = None
    if request.method == "POST":
        outcome = act(lambda action: _action(who, client, action))
        if isinstance(outcome, BaseResponse):
            return outcome
    manages = _manages(who, client)
    return show(
        "ksef/access.html",
        outcome,
        client=client,
        rows=credentials.list_credentials(who, client_id) if manages else [],
        grants=permissions.list_grants(who, client_id),
        pull=permissions.pull_status(who, client_id),
        manages=manages,
        grants_rights=who.administers_client(client),
    )


def _action(  # noqa: PLR0911 (one answer per button)
    who: Actor, client: ClientCompany, action: str
) -> str | BaseResponse:
    client_id = client.id
    if action == "token":
        credentials.store_ksef_token(who, client_id, request.form.get("token", ""))
        return _("The KSeF token works and is stored.")
    if action == "prepare":
        prepared = credentials.prepare_signature(who, client_id)
        return Response(
            prepared.document,
            mimetype="application/xml",
            headers={
                "Content-Disposition": f'attachment; filename="delegat-'
                f'{client.nip}-{prepared.request_id}.xml"'
            },
        )
    if action == "signed":
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            raise ValidationFailed.single("file", "choose the signed file")
        credentials.upload_signed(
            who,
            client_id,
            _request_id_of(sent.filename),
            sent.read(),
            mint_token=request.form.getlist("mint"),
        )
        return _("Signed in to KSeF for this client.")
    if action == "delete":
        credentials.delete_credential(who, client_id, int(request.form.get("credential_id", "0")))
        return _("The credential was deleted and revoked in KSeF.")
    if action == "grant":
        made = permissions.grant(
            who,
            client_id,
            kind=request.form.get("kind", ""),
            identifier=request.form.get("identifier", ""),
            name=request.form.get("name", ""),
            rights=request.form.getlist("rights"),
            can_delegate=bool(request.form.get("can_delegate")),
        )
        return _("The grant to %(name)s is on its way to KSeF.", name=made.grantee_name)
    if action == "revoke":
        permissions.revoke(who, client_id, int(request.form.get("grant_id", "0")))
        return _("The grant is being revoked in KSeF.")
    if action == "pull":
        permissions.request_pull(who, client_id)
        return _("Reading the grants KSeF holds; the list updates by itself.")
    raise ValidationFailed.single("action", "unknown action")


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


def grant_row(grant: Grant) -> dict[str, Any]:
    label = labels.grant_state(grant.state)
    return {
        "state": grant.state,
        "label": str(label.text),
        "tone": label.tone,
        "explanation": str(label.explanation),
        "reason": labels.reason(grant.error),
        "settled": grant.state in labels.GRANT_SETTLED,
    }


@bp.get("/clients/<int:client_id>/ksef/live")
@signed_in
def ksef_live(client_id: int) -> Response:
    """Grant states and the last reading of KSeF, for the page that follows them."""
    who = actor()
    pull = permissions.pull_status(who, client_id)
    return jsonify(
        {
            "rows": {
                f"grant-{g.id}": grant_row(g) for g in permissions.list_grants(who, client_id)
            },
            "pull": (
                {
                    "text": _(
                        "Grants read from KSeF: %(moment)s",
                        moment=i18n.format_moment(pull.last_ok_at),
                    )
                    if pull.last_ok_at
                    else "",
                    "error": labels.reason(pull.error),
                }
                if pull
                else None
            ),
        }
    )
