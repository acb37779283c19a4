"""Korean and English for the dynamic pages.

Static pages cannot choose: they exist once per language as fixed files
(static/index.html, static/en/index.html). Dynamic pages choose on every
request: ?lang=, else the cookie the language switch sets, else the browser's
Accept-Language, else Korean, the language of the lesson.

Every string a page shows lives in gettext catalogues under translations/,
made and checked with Babel; they are compiled in memory at start-up.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import Environment, pass_context
from starlette.requests import Request

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}


@dataclass(frozen=True)
class LanguageChoice:
    code: str
    how: str  # "query", "cookie", "header" or "default": said on the page


def load_translations(directory: Path) -> dict[str, gettext.GNUTranslations]:
    """Given translations/, return a compiled catalogue per language; fail loudly if one is missing."""
    translations = {}
    for language in LANGUAGES:
        po_path = directory / language / "LC_MESSAGES" / "messages.po"
        if not po_path.is_file():
            raise RuntimeError(f"Missing translation catalogue {po_path}")
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language)
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        translations[language] = gettext.GNUTranslations(compiled)
    return translations


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


@pass_context
def _gettext(context: Any, message: str) -> str:
    translations: gettext.GNUTranslations = context["translations"]
    return translations.gettext(message)


@pass_context
def _ngettext(context: Any, singular: str, plural: str, count: int) -> str:
    translations: gettext.GNUTranslations = context["translations"]
    return translations.ngettext(singular, plural, count)


@pass_context
def _format_number(context: Any, number: float) -> str:
    return format_decimal(number, locale=context["lang"])


@pass_context
def _format_time(context: Any, moment: datetime, format: str = "medium") -> str:
    return format_datetime(moment, format=format, locale=context["lang"])


def install(environment: Environment) -> None:
    """Make `_()`, `{% trans %}`, `|number` and `|datetime` follow each request's language."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["number"] = _format_number
    environment.filters["datetime"] = _format_time
    environment.globals["language_names"] = LANGUAGE_NAMES
    for language in LANGUAGES:
        Locale.parse(language)  # fail at start-up, not at the first request, if Babel lacks one
