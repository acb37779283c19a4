"""Korean and English for the dynamic pages.

Static pages cannot choose: they exist once per language as fixed files
(static/index.html, static/en/index.html). Dynamic pages choose on every
request: ?lang=, else the cookie the language switch sets, else the browser's
Accept-Language, else Korean, the language of the lesson.

Every string a page shows lives in gettext catalogues under translations/,
made and checked with Babel. They are compiled in memory, and compiled again
when a .po file changes on disk, the way Jinja re-reads an edited template:
an edited translation shows on the next request, without a restart.
"""

from __future__ import annotations

import gettext
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from starlette.requests import Request

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
# Parsed once: Babel parses a locale name on every call it is given one (a third of its cost).
LOCALES = {language: Locale.parse(language) for language in LANGUAGES}
# CLDR's Korean formats print "PM 2:05"; Korean readers expect 오후 and 년/월/일, so
# Korean dates and times use these patterns instead of Babel's named formats.
KOREAN_DATETIME_PATTERNS = {
    "short": "y년 M월 d일 aaaa h시 m분",
    "medium": "y년 M월 d일 aaaa h시 m분 s초",
    "long": "y년 M월 d일 aaaa h시 m분 s초 z",
}

logger = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a message for the catalogues (Babel extracts `N_("…")`); it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class LanguageChoice:
    code: str
    how: str  # "query", "cookie", "header", "default" or "address" (a shared page): said on the page


def compile_catalogue(po_path: Path, language: str) -> gettext.GNUTranslations:
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Catalogues:
    """The compiled catalogue of each language, compiled again when its .po file changes."""

    def __init__(self, directory: Path) -> None:
        self._paths = {language: directory / language / "LC_MESSAGES" / "messages.po" for language in LANGUAGES}
        self._compiled: dict[str, tuple[int, gettext.GNUTranslations]] = {}
        self._lock = threading.Lock()
        for language, path in self._paths.items():
            if not path.is_file():
                raise RuntimeError(f"Missing translation catalogue {path}")
            self.get(language)  # a broken catalogue fails at start-up, not at the first request

    def get(self, language: str) -> gettext.GNUTranslations:
        """Given a language code, return its catalogue as the .po file on disk says now."""
        path = self._paths[language]
        try:
            modified = path.stat().st_mtime_ns
        except OSError:  # being replaced by an editor this very moment: keep what we have
            return self._compiled[language][1]
        known = self._compiled.get(language)
        if known and known[0] == modified:
            return known[1]
        with self._lock:
            try:
                compiled = compile_catalogue(path, language)
            except (OSError, ValueError) as error:
                if known is None:
                    raise
                # Caught half-written by an editor: the next request reads the finished file.
                logger.warning("could not read %s, keeping the catalogue read before: %s", path, error)
                return known[1]
            self._compiled[language] = (modified, compiled)
            return compiled


def parse_accept_language(header: str) -> list[str]:
    """Given an Accept-Language header, return its primary language codes, most wanted first."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.split("-")[0].lower()))
    return [code for _, _, code in sorted(weighted)]


def choose_language(request: Request) -> LanguageChoice:
    query = request.query_params.get("lang", "").lower()
    if query in LANGUAGES:
        return LanguageChoice(query, "query")
    cookie = request.cookies.get(COOKIE_NAME, "").lower()
    if cookie in LANGUAGES:
        return LanguageChoice(cookie, "cookie")
    for code in parse_accept_language(request.headers.get("accept-language", "")):
        if code in LANGUAGES:
            return LanguageChoice(code, "header")
    return LanguageChoice(DEFAULT_LANGUAGE, "default")


def language_in_address(request: Request) -> LanguageChoice:
    """The language a shared page uses: ?lang= in the address, else Korean; never the visitor's cookie or
    Accept-Language, which a shared cache does not see in its key."""
    query = request.query_params.get("lang", "").lower()
    return LanguageChoice(query if query in LANGUAGES else DEFAULT_LANGUAGE, "address")


def format_number_for(number: float, language: str) -> str:
    """Given a number and a language, return it written as a reader of that language expects."""
    locale = LOCALES[language]
    if isinstance(number, int):
        # Counts: grouped in threes with the language's separator, as Babel does, at a tenth of the cost.
        return f"{number:,}".replace(",", locale.number_symbols["latn"]["group"])
    return format_decimal(number, locale=locale)


def format_datetime_for(moment: datetime, format: str, language: str) -> str:
    """Given a moment, a named format (short, medium, long) and a language, return the text a reader of it expects."""
    if language == "ko":
        format = KOREAN_DATETIME_PATTERNS[format]
        if moment.hour == 0:  # 오전 0시, as Korean clocks say it: "오전 12시" reads as noon to many
            format = format.replace("h시", "K시")
    return format_datetime(moment, format=format, locale=LOCALES[language])
