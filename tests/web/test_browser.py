"""User journeys in a real browser: Playwright driving the system's Chromium (Debian's
``chromium`` package; no browser is downloaded) against the service served on loopback, with
a worker thread running the jobs and the local KSeF judging the invoices.

Skipped, saying so, when Chromium is not installed (``apt-get install chromium``)."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq.timeouts import TimerDeathPenalty
from werkzeug.serving import make_server

from integration.accounts.actor import Actor
from integration.accounts.models import Role
from integration.core.db import db
from integration.invoices.models import Invoice
from integration.jobs.worker import AppSimpleWorker
from integration.ksef_sandbox.cli import make_token
from integration.ksef_sandbox.processing import Processor
from integration.licensing import service as licensing
from tests.conftest import PASSWORD, World, _add_user, run_due_jobs
from tests.invoices.conftest import client_nip, fund, invoice_xml, sandbox_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        "browser journeys skipped: Chromium is not installed (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")

# English words of the interface that must not appear on a Polish page (whole words)
ENGLISH = re.compile(
    r"\b(Sign in|Sign out|Invoices|Send|Queued|Accepted|Rejected|Home|People|Search|Delete|"
    r"Revoke|Save|Add|Grant|Register now|client admin|accountant|Password)\b"
)


class _ThreadWorker(AppSimpleWorker):
    """The burst worker, in a thread: no signal handlers, timeouts by a timer."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return


@dataclass
class Live:
    url: str
    app: Flask


@pytest.fixture
def live(app: Flask, ksef_sandbox: Flask) -> Iterator[Live]:
    """The service on a loopback port, and a worker thread that runs every due job (delayed
    ones at once) while the sandbox judges what it was sent."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    stop = threading.Event()
    processor = ksef_sandbox.extensions["ksef_sandbox.processor"]
    assert isinstance(processor, Processor)

    def work() -> None:
        while not stop.is_set():
            processor.drain()
            run_due_jobs(app, _ThreadWorker)
            stop.wait(0.3)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        stop.set()
        worker.join(timeout=30)
        server.shutdown()


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_as(live: Live, browser: Any) -> Iterator[Callable[[str], Any]]:
    """A Polish browser (pl-PL) signed in as the person with this e-mail."""
    contexts: list[Any] = []

    def sign_in(email: str) -> Any:
        context = browser.new_context(locale="pl-PL", timezone_id="Europe/Warsaw")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live.url}/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Hasło").fill(PASSWORD)
        page.get_by_role("button", name="Zaloguj się").click()
        page.wait_for_url(f"{live.url}/")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def _polish(page: Any) -> None:
    """The page says it is Polish and shows no English word of the interface."""
    assert page.locator("html").get_attribute("lang") == "pl"
    text = page.locator("body").inner_text()
    found = ENGLISH.findall(text)
    assert not found, f"English on a Polish page: {found}"


def _licence(app: Flask, seats: int) -> str:
    with app.app_context():
        return licensing.issue_licence(
            Actor(is_platform_admin=True), kind="application", plan="biuro", seats=seats
        ).number


def _ksef_token(app: Flask, ksef_sandbox: Flask, client_id: int, *more: str) -> str:
    nip = client_nip(app, client_id)
    rights = ["InvoiceRead", "InvoiceWrite", *more]
    _, secret = make_token(sandbox_store(ksef_sandbox), nip, rights)
    return secret


def test_the_bureau_admin_adds_registers_and_connects_a_client_in_polish(
    live: Live,
    open_as: Callable[[str], Any],
    make_world: Callable[..., World],
    ksef_sandbox: Flask,
) -> None:
    w = make_world()
    page = open_as(w.admin_email)
    _polish(page)
    page.goto(f"{live.url}/bureaus/{w.bureau_id}/licence")
    page.get_by_label("Numer licencji").fill(_licence(live.app, seats=5))
    page.get_by_role("button", name="Wprowadź numer").click()
    page.get_by_text("Numer licencji został wprowadzony.").wait_for()
    _polish(page)

    page.goto(f"{live.url}/")
    page.locator("#new-nip").fill("111-222-33-32")
    page.locator("#new-name").fill("Piekarnia Zofia")
    page.get_by_role("button", name="Dodaj", exact=True).click()
    page.get_by_text("Dodano firmę Piekarnia Zofia").wait_for()
    page.reload()  # a reload repeats nothing
    assert page.get_by_role("link", name="Piekarnia Zofia").count() == 1
    row = page.locator("tr", has_text="Piekarnia Zofia")
    row.get_by_role("button", name="Zarejestruj teraz").click()
    page.get_by_text("Klient jest zarejestrowany w licencji.").wait_for()
    _polish(page)

    client_id = int(
        page.get_by_role("link", name="Piekarnia Zofia").get_attribute("href").split("/")[2]
    )
    page.goto(f"{live.url}/clients/{client_id}/ksef")
    page.get_by_label("Token KSeF dla NIP 1112223332").fill(
        _ksef_token(live.app, ksef_sandbox, client_id)
    )
    page.get_by_role("button", name="Sprawdź i zapisz").click()
    page.get_by_text("Token KSeF działa i został zapisany.").wait_for()
    assert page.locator(".badge", has_text=re.compile(r"^Działa$")).count() >= 1
    _polish(page)


def test_the_accountant_sends_an_invoice_and_sees_it_accepted_without_a_reload(
    live: Live,
    open_as: Callable[[str], Any],
    make_world: Callable[..., World],
    ksef_sandbox: Flask,
    tmp_path: Path,
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    fund(live.app, w.bureau_id, 10)
    admin = open_as(w.admin_email)
    admin.goto(f"{live.url}/clients/{client_id}/ksef")
    admin.locator("#f-token").fill(_ksef_token(live.app, ksef_sandbox, client_id))
    admin.get_by_role("button", name="Sprawdź i zapisz").click()
    admin.get_by_text("Token KSeF działa").wait_for()

    page = open_as(w.accountant_email)
    page.goto(f"{live.url}/clients/{client_id}/invoices")
    invoice = tmp_path / "FV-1-2026.xml"
    invoice.write_bytes(invoice_xml(client_nip(live.app, client_id), "FV/1/2026", net="1234.50"))
    page.locator("#invoice-file").set_input_files(str(invoice))
    page.get_by_role("button", name="Wyślij", exact=True).click()
    page.get_by_text("Faktura FV/1/2026 czeka w kolejce do KSeF").wait_for()
    row = page.locator("tr", has_text="FV/1/2026")
    assert "1 518,44 zł" in row.inner_text().replace("\u00a0", " ")  # 1234.50 + 23 % VAT
    assert re.search(r"\d\d\.\d\d\.20\d\d", row.inner_text())  # DD.MM.RRRR
    row.locator(".badge", has_text="Przyjęta").wait_for(timeout=60_000)  # no reload
    assert row.locator("[data-field=upo] a").count() == 1
    assert re.search(r"\d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}", row.inner_text())
    _polish(page)

    page.reload()  # the send is not repeated
    with live.app.app_context():
        assert db.session.query(Invoice).filter(Invoice.number == "FV/1/2026").count() == 1


def test_the_client_admin_grants_a_right_by_pesel_and_sees_it_active(
    live: Live,
    open_as: Callable[[str], Any],
    make_world: Callable[..., World],
    ksef_sandbox: Flask,
) -> None:
    w = make_world()
    client_id = w.client_ids[0]
    admin = open_as(w.admin_email)
    admin.goto(f"{live.url}/clients/{client_id}/ksef")
    admin.locator("#f-token").fill(
        _ksef_token(live.app, ksef_sandbox, client_id, "CredentialsManage")
    )
    admin.get_by_role("button", name="Sprawdź i zapisz").click()
    admin.get_by_text("Token KSeF działa").wait_for()

    page = open_as(w.client_admin_email)
    page.goto(f"{live.url}/clients/{client_id}/ksef")
    page.locator("#f-identifier").fill("44051401359")
    page.locator("#f-name").fill("Anna Nowak")
    page.get_by_role("button", name="Nadaj", exact=True).click()
    page.get_by_text("Uprawnienie dla: Anna Nowak jest przekazywane do KSeF.").wait_for()
    row = page.locator("tr", has_text="Anna Nowak")
    row.locator(".badge", has_text="Aktywne").wait_for(timeout=60_000)  # followed live
    _polish(page)
    page.reload()
    assert page.locator("tr", has_text="Anna Nowak").count() == 1


def test_a_client_user_reads_and_finds_no_control_they_may_not_use(
    live: Live, open_as: Callable[[str], Any], make_world: Callable[..., World]
) -> None:

    w = make_world()
    client_id = w.client_ids[0]
    with live.app.app_context():
        _add_user(db.session, "reader@client.example", Role.CLIENT_USER, client_id=client_id)
        db.session.commit()
    page = open_as("reader@client.example")
    _polish(page)
    assert page.get_by_text("Twoje faktury wysyła do KSeF biuro").count() == 1
    for url in (f"/clients/{client_id}/invoices", f"/clients/{client_id}/ksef",
                f"/clients/{client_id}/settings"):  # fmt: skip
        page.goto(f"{live.url}{url}")
        _polish(page)
        for forbidden in ("Wyślij", "Nadaj", "Odbierz", "Sprawdź i zapisz", "Usuń", "Importuj"):
            assert page.get_by_role("button", name=forbidden, exact=True).count() == 0, (
                url,
                forbidden,
            )
        assert page.locator("input[type=file]").count() == 0, url
    assert page.get_by_role("link", name="Osoby").count() == 0
