"""worker.py, as deployed: a forking RQ worker in its own process runs our jobs."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from integration.core.db import db
from integration.core.settings import Settings
from integration.mail.models import MailOutbox
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[2]


def test_worker_script_delivers_a_welcome_email_in_burst_mode(
    app: Flask,
    settings: Settings,
    make_world: Callable[..., World],
    login: Callable[[str], FlaskClient],
) -> None:
    w = make_world()
    created = login(w.admin_email).post(
        f"/api/v1/bureaus/{w.bureau_id}/users",
        json={"email": "fork@x.example", "first_name": "F", "last_name": "K", "role": "accountant"},
    )
    assert created.status_code == 201
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELEGAT_")}
    env |= {
        "DELEGAT_DATABASE_URL": settings.database_url,
        "DELEGAT_REDIS_URL": settings.redis_url,
        "DELEGAT_SECRET_KEY": "x",
        # the outbox keeps the one-time link encrypted
        "DELEGAT_CREDENTIAL_ENCRYPTION_KEY": settings.credential_encryption_key or "",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--burst"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with app.app_context():
        assert db.session.scalar(select(MailOutbox.recipient)) == "fork@x.example"
