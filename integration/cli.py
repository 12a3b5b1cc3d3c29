"""Flask commands: demo data and admin tasks (``flask --app wsgi delegat ...``)."""

from __future__ import annotations

import click
from flask import Flask

from integration import demo


def register(app: Flask) -> None:
    group = click.Group("delegat", help="Delegat administration.")

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

    app.cli.add_command(group)
