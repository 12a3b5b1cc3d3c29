"""Polish first, English second: the catalogs, the language a request gets, Polish formats,
and problem details in the caller's language."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from integration.core import i18n
from tests.conftest import World, signed_in

ROOT = Path(__file__).resolve().parents[2]
# The domain's errors whose literal messages are in the catalogs (README: Translations)
DOMAIN_ERRORS = [
    arg
    for name in ("Forbidden", "NotFound", "Conflict", "Unauthenticated", "DuplicateInvoice",
                 "ArchiveRejected", "InvalidNumber", "ClientReadOnly", "QuotaExhausted", "Text")
    for arg in ("-k", name)
]  # fmt: skip


def test_every_message_of_the_pages_has_a_polish_translation(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
         "integration/translations/babel.cfg", "-k", "_l", "-k", "ngettext:1,2",
         "-k", "single:2", "-k", "FieldError:2", "-k", "InvalidIdentifier", *DOMAIN_ERRORS,
         "-o", str(template), "--no-location", "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with template.open("rb") as extracted:
        wanted = {m.id for m in read_po(extracted) if m.id}
    with (i18n.TRANSLATIONS / "pl/LC_MESSAGES/messages.po").open("rb") as source:
        polish = read_po(source, locale="pl")

    def translated(message_id: str | tuple[str, ...]) -> bool:
        found = polish.get(message_id)
        forms = found.string if found is not None else ""
        return bool(forms) and all(forms if isinstance(forms, tuple) else [forms])

    untranslated = sorted(str(m) for m in wanted if not translated(m))
    assert len(wanted) > 300
    assert not untranslated, untranslated[:20]


def test_pages_are_polish_by_default_and_follow_accept_language(client: FlaskClient) -> None:
    plain = client.get("/login", headers={"Accept-Language": ""})
    assert '<html lang="pl">' in plain.text
    assert "Zaloguj się" in plain.text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text
    other = client.get("/login", headers={"Accept-Language": "de-DE"})  # neither: Polish
    assert '<html lang="pl">' in other.text


def test_the_person_s_choice_of_language_outranks_the_browser_and_stays_on_the_account(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    home = http.get("/", headers={"Accept-Language": "pl"})
    token = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    chose = http.post("/language", data={"language": "en", "csrf_token": token, "back": "/"})
    assert chose.status_code == 303
    assert '<html lang="en">' in http.get("/", headers={"Accept-Language": "pl"}).text
    again = signed_in(app, w.accountant_email)  # a new session reads it from the account
    login = again.get("/login")
    token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    again.post(
        "/login",
        data={"email": w.accountant_email, "password": "correct horse battery staple",
              "csrf_token": token},
        headers={"Accept-Language": "pl"},
    )  # fmt: skip
    assert '<html lang="en">' in again.get("/", headers={"Accept-Language": "pl"}).text


def test_dates_amounts_and_times_are_formatted_as_in_poland(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert i18n.format_day(date(2026, 3, 5)) == "05.03.2026"
        assert i18n.format_money(Decimal("1518.44")).replace("\u00a0", " ") == "1 518,44 zł"
        summer = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
        assert i18n.format_moment(summer) == "01.07.2026 12:30"  # CEST, UTC+2
        winter = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
        assert i18n.format_moment(winter) == "01.12.2026 11:30"  # CET, UTC+1


def test_problem_details_follow_accept_language_and_keep_type_and_title(
    app: Flask, make_world: Callable[..., World]
) -> None:
    w = make_world()
    http = signed_in(app, w.accountant_email)
    body = {"nip": "1234567890", "name": "Zła Firma"}
    url = f"/api/v1/bureaus/{w.bureau_id}/clients"
    polish = http.post(url, json=body, headers={"Accept-Language": "pl-PL"})
    english = http.post(url, json=body, headers={"Accept-Language": "en"})
    assert polish.status_code == english.status_code == 422
    assert polish.json["type"] == english.json["type"]
    assert polish.json["title"] == english.json["title"]
    assert polish.json["detail"] != english.json["detail"]
    assert polish.headers["Content-Language"] == "pl"
    assert english.headers["Content-Language"] == "en"


def test_a_message_with_values_is_shown_in_the_caller_s_language(app: Flask) -> None:
    from integration.core.errors import Text  # noqa: PLC0415

    message = Text("must be at most %(most)d characters", most=200)
    assert message == "must be at most 200 characters"  # English where no language is asked
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        assert i18n.translate(message) == "może mieć najwyżej 200 znaków"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert i18n.translate(message) == "must be at most 200 characters"
