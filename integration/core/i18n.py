"""Languages and formats: Polish first, English second.

The catalogs live in ``integration/translations`` (``messages.po`` per language, message ids
in English). The install step compiles them (``pybabel compile``); a process that finds a
catalog newer than its compiled form compiles it itself, so a checkout always speaks Polish.

The language of a request: the person's own setting (kept in the session when they sign in
or change it), then the browser's ``Accept-Language``, then Polish. Dates are ``DD.MM.RRRR``,
times are shown in Europe/Warsaw, amounts as Babel formats them (``1 518,44 zł``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_babel import (
    Babel,
    LazyString,
    format_currency,
    format_datetime,
    format_decimal,
    get_locale,
    lazy_gettext,
)
from flask_babel import format_date as babel_format_date
from flask_babel import gettext as _gettext
from flask_babel import ngettext as _ngettext

from integration.core.errors import Text
from integration.core.messages import DEFAULT, LANGUAGES, TRANSLATIONS

__all__ = ["DEFAULT", "LANGUAGES", "TRANSLATIONS", "init_app", "translate"]

TIMEZONE = "Europe/Warsaw"
SESSION_KEY = "language"
_DATE = {"pl": "dd.MM.yyyy", "en": "d MMM yyyy"}
_DATETIME = {"pl": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
log = logging.getLogger(__name__)


def select_locale() -> str:
    if has_request_context():
        chosen = session.get(SESSION_KEY)
        if chosen in LANGUAGES:
            return str(chosen)
        offered = request.accept_languages.best_match(LANGUAGES)
        if offered:
            return offered
    return DEFAULT


def language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def remember(choice: str | None) -> None:
    """Keep a person's language for the rest of their session (None: the browser decides)."""
    if choice in LANGUAGES:
        session[SESSION_KEY] = choice
    else:
        session.pop(SESSION_KEY, None)


def _(text: str, **variables: object) -> str:
    """A message of the pages in the request's language (``%(name)s`` filled in)."""
    return str(_gettext(text, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """A message that depends on a count (Polish has three forms: 1, 2-4, 5 and more)."""
    return str(_ngettext(singular, plural, num, **variables))


def lazy(text: str) -> LazyString:
    """A message translated when shown (module-level labels)."""
    found: LazyString = lazy_gettext(text)
    return found


def translate(text: str) -> str:
    """A message of the service (an error's detail, say) in the request's language; text the
    catalog does not know is returned as it is. A :class:`Text` is translated by its template
    and filled with its values again."""
    if isinstance(text, Text):
        return str(_gettext(text.template)) % text.params if text.params else _(text.template)
    return str(_gettext(text)) if text else text


def format_day(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.date()
    return str(babel_format_date(value, _DATE.get(language(), _DATE[DEFAULT])))


def format_moment(value: datetime | None) -> str:
    """A point in time in Europe/Warsaw (naive datetimes are UTC, as the database keeps them)."""
    if value is None:
        return "—"
    return str(format_datetime(value, _DATETIME.get(language(), _DATETIME[DEFAULT])))


def format_money(amount: Decimal | float | int | None, currency: str | None = "PLN") -> str:
    if amount is None:
        return "—"
    return str(format_currency(Decimal(str(amount)), currency or "PLN"))


def format_number(value: Decimal | float | int | None) -> str:
    return "—" if value is None else str(format_decimal(value))


def compile_catalogs(folder: Path = TRANSLATIONS) -> int:
    """Compile every catalog whose ``.po`` is newer than its ``.mo``; the number compiled."""
    done = 0
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        try:
            with mo.open("wb") as target:
                write_mo(target, catalog)
        except OSError:
            log.warning("the catalog %s cannot be compiled here; run pybabel compile", po)
            continue
        done += 1
    return done


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: TIMEZONE)
    app.jinja_env.filters.update(
        day=format_day, moment=format_moment, money=format_money, number=format_number
    )
    app.jinja_env.globals.update(language=language, LANGUAGES=LANGUAGES)
