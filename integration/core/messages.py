"""Messages written outside a request (e-mails), in their recipient's language, from the same
catalogs as the pages (``integration/translations``). Polish unless the person chose English."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LANGUAGES = ("pl", "en")
DEFAULT = "pl"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


class Translator:
    """``gettext`` and ``ngettext`` of one language, with ``%(name)s`` filled in."""

    def __init__(self, language: str, catalog: NullTranslations) -> None:
        self.language = language
        self._catalog = catalog

    def gettext(self, text: str, **variables: object) -> str:
        found = self._catalog.gettext(text)
        return found % variables if variables else found

    def ngettext(self, singular: str, plural: str, num: int, **variables: object) -> str:
        found = self._catalog.ngettext(singular, plural, num)
        return found % {"num": num, **variables}


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: str | None = None) -> Translator:
    """The translator of a person's language (None or unknown: Polish)."""
    chosen = language if language in LANGUAGES else DEFAULT
    catalog = Translations.load(str(TRANSLATIONS), [chosen], domain="messages")
    return Translator(chosen, catalog)
