"""The demo data of the run command: one bureau, two accountants, three clients, logins."""

from flask import Flask
from sqlalchemy import func, select

from integration.accounts.models import ClientCompany, Membership, Role
from integration.core.db import db
from integration.licensing import service as licensing
from integration.licensing.models import ClientRegistration
from integration.licensing.numbers import Module


def test_demo_data_loads_twice_and_prints_the_logins(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["delegat", "demo-data"])
    second = runner.invoke(args=["delegat", "demo-data"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "szef@bilans.example" in first.output
    with app.app_context():
        clients = db.session.scalar(select(func.count()).select_from(ClientCompany))
        accountants = db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == Role.ACCOUNTANT)
        )
        registered = db.session.scalar(select(func.count()).select_from(ClientRegistration))
    assert (clients, accountants, registered) == (3, 2, 2)
    with app.app_context():
        bureau_id = db.session.scalar(select(ClientCompany.bureau_id).limit(1))
        assert bureau_id is not None
        modules = licensing.licensed_modules(db.session, bureau_id)
    assert modules is not None
    assert set(modules.names()) == {m.name.lower() for m in Module if m.name}  # all to show
