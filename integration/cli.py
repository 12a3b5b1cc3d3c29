"""Flask commands: demo data and admin tasks (``flask --app wsgi delegat ...``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from integration import demo
from integration.accounts.actor import SYSTEM
from integration.core.db import transaction
from integration.credentials import service as credentials
from integration.credentials.models import KsefCredential
from integration.licensing import installation
from integration.mail import deliverable_body
from integration.mail.models import MailOutbox


def register(app: Flask) -> None:
    group = AppGroup("delegat", help="Delegat administration.")

    @group.command("demo-data")
    def demo_data() -> None:
        """Load the demo bureau, its people and clients (idempotent); print the logins."""
        logins = demo.load()
        click.echo("Demo logins (e-mail / password):")
        for role, email, password in logins:
            click.echo(f"  {role:<16} {email:<34} {password}")

    @group.command("create-platform-admin")
    @click.option("--email", required=True)
    @click.option("--first-name", default="Platform")
    @click.option("--last-name", default="Admin")
    @click.password_option()
    def create_platform_admin(email: str, first_name: str, last_name: str, password: str) -> None:
        """Create the platform admin who issues bureaus and licences."""
        user = demo.ensure_user(
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password,
            platform_admin=True,
        )
        click.echo(f"platform admin {user.email} (id {user.id}) is ready")

    ksef = AppGroup("ksef", help="KSeF credentials of client companies (as the operator).")

    def show(rows: list[KsefCredential]) -> None:
        for row in rows:
            click.echo(
                f"  #{row.id:<4} {row.kind:<11} {row.context_nip or '-':<11} "
                f"{row.status:<8} rights={row.rights or '-':<24} "
                f"expires={row.expires_at or '-'}  fp={row.fingerprint}"
            )

    @ksef.command("credentials")
    @click.option("--client-id", type=int, required=True)
    def list_credentials(client_id: int) -> None:
        """Which credentials work for the client (no secrets are shown)."""
        show(credentials.list_credentials(SYSTEM, client_id))

    @ksef.command("store-token")
    @click.option("--client-id", type=int, required=True)
    @click.option(
        "--token-file",
        type=click.File("r"),
        required=True,
        help="a file holding the KSeF token ('-' reads standard input)",
    )
    def store_token(client_id: int, token_file: Any) -> None:
        """Store a KSeF token for the client's context after testing it."""
        row = credentials.store_ksef_token(SYSTEM, client_id, token_file.read().strip())
        click.echo(f"stored KSeF token #{row.id} (fingerprint {row.fingerprint})")

    @ksef.command("prepare-signature")
    @click.option("--client-id", type=int, required=True)
    @click.option("--out", type=click.Path(dir_okay=False), required=True)
    @click.option(
        "--fingerprint",
        is_flag=True,
        help="identify the signer by certificate fingerprint instead of its subject",
    )
    def prepare(client_id: int, out: str, fingerprint: bool) -> None:
        """Write the AuthTokenRequest to sign (valid 10 minutes)."""
        prepared = credentials.prepare_signature(
            SYSTEM, client_id, "certificateFingerprint" if fingerprint else "certificateSubject"
        )
        Path(out).write_bytes(prepared.document)
        click.echo(f"request {prepared.request_id}: sign {out} before {prepared.expires_at}")

    @ksef.command("upload-signed")
    @click.option("--client-id", type=int, required=True)
    @click.option("--request-id", type=int, required=True)
    @click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), required=True)
    @click.option("--mint", multiple=True, type=click.Choice(["InvoiceRead", "InvoiceWrite"]))
    def upload(client_id: int, request_id: int, path: str, mint: tuple[str, ...]) -> None:
        """Sign in to KSeF with the signed file; optionally mint an unattended token."""
        credentials.upload_signed(
            SYSTEM, client_id, request_id, Path(path).read_bytes(), mint_token=mint
        )
        show(credentials.list_credentials(SYSTEM, client_id))

    @ksef.command("upload-seal")
    @click.option("--bureau-id", type=int, required=True)
    @click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), required=True)
    @click.option("--format", "fmt", type=click.Choice(["pkcs12", "pem"]), default="pkcs12")
    @click.option(
        "--password-env",
        default="DELEGAT_SEAL_PASSWORD",
        help="environment variable holding the password (never a command argument)",
    )
    def upload_seal(bureau_id: int, path: str, fmt: str, password_env: str) -> None:
        """Keep the bureau's company seal for server-side signing."""
        row = credentials.upload_seal(
            SYSTEM,
            bureau_id,
            Path(path).read_bytes(),
            password=os.environ.get(password_env),
            fmt=fmt,
        )
        click.echo(f"seal #{row.id} stored: {row.label} (fingerprint {row.fingerprint})")

    @ksef.command("seal-login")
    @click.option("--client-id", type=int, required=True)
    @click.option("--mint", multiple=True, type=click.Choice(["InvoiceRead", "InvoiceWrite"]))
    def seal_login(client_id: int, mint: tuple[str, ...]) -> None:
        """Sign in to the client's context with the bureau's seal."""
        credentials.login_with_seal(SYSTEM, client_id, mint_token=mint)
        show(credentials.list_credentials(SYSTEM, client_id))

    @ksef.command("test")
    @click.option("--client-id", type=int, required=True)
    def test(client_id: int) -> None:
        """Ask KSeF now whether the stored credentials work."""
        click.echo(credentials.check_credentials(SYSTEM, client_id).detail)

    @ksef.command("delete")
    @click.option("--client-id", type=int, required=True)
    @click.option("--credential-id", type=int, required=True)
    def delete(client_id: int, credential_id: int) -> None:
        """Delete a credential, revoking it in KSeF where possible."""
        credentials.delete_credential(SYSTEM, client_id, credential_id)
        click.echo("deleted")

    @ksef.command("rotate-vault")
    def rotate_vault() -> None:
        """Re-encrypt stored secrets with the first key of DELEGAT_CREDENTIAL_ENCRYPTION_KEY."""
        click.echo(f"re-encrypted {credentials.rotate_vault()} credential(s)")

    group.add_command(ksef)

    for commands in (installation_commands, mail_commands):
        group.add_command(commands)
    app.cli.add_command(group)


installation_commands = AppGroup("installation", help="A self-hosted installation's activation.")


@installation_commands.command("key")
def show_key() -> None:
    """This installation's key, to paste into the platform's control panel."""
    click.echo(installation.this_installation_key())


@installation_commands.command("status")
def show_status() -> None:
    """Whether this installation is activated, and within what."""
    found = installation.status()
    if not found.self_hosted:
        click.echo("not self-hosted (no DELEGAT_PLATFORM_VERIFY_KEY): nothing to activate")
    elif found.active:
        names = ", ".join(found.modules.names()) if found.modules is not None else ""
        click.echo(f"activated: modules {names}; {found.seats} seats")
    else:
        click.echo(f"read-only: {found.reason}")


mail_commands = AppGroup("mail", help="The outbox: e-mails as they are to reach people.")


@mail_commands.command("show")
@click.option("--to", "recipient", required=True, help="the recipient's e-mail address")
def show_mail(recipient: str) -> None:
    """Print the e-mails to one address, one-time links included (for the operator)."""
    with transaction() as s:
        rows = s.scalars(
            select(MailOutbox)
            .where(MailOutbox.recipient == recipient.strip().lower())
            .order_by(MailOutbox.id)
        ).all()
        for row in rows:
            click.echo(f"--- {row.created_at:%Y-%m-%d %H:%M} {row.subject}")
            click.echo(deliverable_body(row))
    if not rows:
        click.echo(f"no e-mail to {recipient}")
