"""The invitation e-mail to a person who already has an account: sent once, with a one-time
code that accepts it (only the code's hash is kept)."""

from __future__ import annotations

from sqlalchemy import update

from integration.accounts.models import Bureau, ClientCompany, Membership, MembershipState
from integration.accounts.secrets import new_token, token_digest
from integration.core.appctx import current_settings
from integration.core.db import transaction
from integration.core.messages import translator
from integration.mail import Message, backend_for, send

ROLE_NAMES = {  # as the e-mail names them (translated in the recipient's language)
    "bureau_admin": "bureau admin",
    "accountant": "accountant",
    "client_admin": "client admin",
    "client_user": "client user",
}


def accept_link(base_url: str, token: str) -> str:
    """The code travels after ``#``: a browser never sends that part to a server."""
    return f"{base_url}/invitations#{token}"


def deliver(membership_id: int) -> bool:
    """Mint the code and hand the e-mail to the backend, together or not at all."""
    settings = current_settings()
    token = new_token()
    with transaction() as s:
        claimed = s.execute(  # type: ignore[attr-defined]
            update(Membership)
            .where(
                Membership.id == membership_id,
                Membership.state == MembershipState.INVITED,
                Membership.invite_token_hash.is_(None),
            )
            .values(invite_token_hash=token_digest(token))
        ).rowcount
        if not claimed:
            return False
        membership = s.get(Membership, membership_id)
        assert membership is not None
        tenant = (
            s.get(Bureau, membership.bureau_id)
            if membership.bureau_id is not None
            else s.get(ClientCompany, membership.client_id)
        )
        assert tenant is not None
        user = membership.user
        tr = translator(user.language)
        role = tr.gettext(ROLE_NAMES.get(membership.role.value, membership.role.value))
        body = [
            tr.gettext("Hello %(name)s,", name=user.person.first_name),
            "",
            tr.gettext(
                "%(tenant)s invited you to work with them in Delegat as %(role)s.",
                tenant=tenant.name,
                role=role,
            ),
            tr.gettext(
                "Sign in with your account (%(email)s) and accept the invitation here:",
                email=user.email,
            ),
            accept_link(settings.public_base_url, token),
            "",
            tr.gettext(
                "If the page asks for the code from this e-mail, it is: %(code)s", code=token
            ),
            tr.gettext("If you do not expect this invitation, ignore this message."),
        ]
        send(
            s,
            backend_for(settings.mail_backend),
            Message(
                key=f"invitation:{membership_id}",
                recipient=user.email,
                subject=tr.gettext("An invitation from %(tenant)s", tenant=tenant.name)[:300],
                body="\n".join(body),
                secrets=(token,),
            ),
        )
    return True
