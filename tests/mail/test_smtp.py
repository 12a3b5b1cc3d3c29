"""The smtp backend against a real mail server on loopback (aiosmtpd) that requires STARTTLS:
a message is handed over once, encrypted; a refused recipient is a bounce, not tried again;
a server that is down is tried again later and gets the message."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from integration.core.db import db, transaction
from integration.core.settings import Settings
from integration.mail import Message, backend_for, send
from integration.mail.models import MailOutbox
from tests.conftest import run_due_jobs

REFUSED = "nobody@delegat.example"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    today = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(today - dt.timedelta(days=1))
        .not_valid_after(today + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Mailbox:
    """What the server took: (recipients, message text, whether the session was encrypted)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes, bool]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: Any) -> str:  # fmt: skip
        if address == REFUSED:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append((list(envelope.rcpt_tos), envelope.content, session.ssl is not None))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[tuple[Callable[[], None], _Mailbox, int, Path]]:
    """A STARTTLS-only server on a free port, started when the test says so."""
    cert_file, key_file = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox, port = _Mailbox(), _free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    started: list[Controller] = []

    def start() -> None:
        controller.start()
        started.append(controller)

    yield start, mailbox, port, cert_file
    for running in started:
        running.stop()


@pytest.fixture
def smtp_app(
    app: Flask, settings: Settings, make_app: Callable[..., Flask], mail_server: Any
) -> Flask:
    _, _, port, cert_file = mail_server
    return make_app(
        settings.replace(
            mail_backend="smtp", smtp_port=port, smtp_ca_file=str(cert_file), smtp_timeout_seconds=5
        )
    )


def _write(application: Flask, key: str, recipient: str) -> int:
    with application.app_context():
        with transaction() as s:
            message = Message(key=key, recipient=recipient, subject="Zażółć", body="Dzień dobry")
            assert send(s, backend_for("smtp"), message)
        found = db.session.query(MailOutbox.id).filter_by(message_key=key).scalar()
        return int(found)


def _run_due(application: Flask) -> None:
    """Run every due job (the delayed ones at once) with the smtp app's settings."""
    run_due_jobs(application)


def _row(application: Flask, row_id: int) -> MailOutbox:
    with application.app_context():
        row = db.session.get(MailOutbox, row_id)
        assert row is not None
        db.session.expunge(row)
        return row


def test_a_message_is_handed_to_the_server_once_over_starttls(
    smtp_app: Flask, mail_server: Any
) -> None:
    start, mailbox, _, _ = mail_server
    start()
    row_id = _write(smtp_app, "smtp:once", "ewa@biuro.example")
    _run_due(smtp_app)
    _run_due(smtp_app)  # nothing more to do
    assert len(mailbox.received) == 1
    recipients, text, encrypted = mailbox.received[0]
    assert recipients == ["ewa@biuro.example"]
    assert encrypted
    parsed = message_from_bytes(text, policy=policy.default)
    assert parsed["Subject"] == "Zażółć"
    assert parsed.get_content().strip() == "Dzień dobry"  # type: ignore[attr-defined]
    row = _row(smtp_app, row_id)
    assert row.sent_at is not None
    assert (row.attempts, row.last_error, row.bounced_at) == (1, "", None)


def test_a_refused_recipient_is_a_bounce_recorded_and_not_tried_again(
    smtp_app: Flask, mail_server: Any
) -> None:
    start, mailbox, _, _ = mail_server
    start()
    row_id = _write(smtp_app, "smtp:bounce", REFUSED)
    _run_due(smtp_app)
    _run_due(smtp_app)
    row = _row(smtp_app, row_id)
    assert row.bounced_at is not None
    assert row.sent_at is None
    assert row.attempts == 1
    assert "550" in row.last_error
    assert mailbox.received == []


def test_a_server_that_is_down_gets_the_message_when_it_is_back(
    smtp_app: Flask, mail_server: Any
) -> None:
    start, mailbox, _, _ = mail_server
    row_id = _write(smtp_app, "smtp:later", "jan@klient.example")
    _run_due(smtp_app)  # connection refused: tried again later
    row = _row(smtp_app, row_id)
    assert (row.sent_at, row.attempts) == (None, 1)
    assert row.last_error
    start()
    _run_due(smtp_app)
    assert [r for r, _, _ in mailbox.received] == [["jan@klient.example"]]
    assert _row(smtp_app, row_id).sent_at is not None
