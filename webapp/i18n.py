"""Korean and English for the dynamic pages.

Static pages cannot choose: they exist once per language as fixed files
(static/index.html, static/en/index.html). Dynamic pages choose on every
request: ?lang=, else the cookie the language switch sets, else the browser's
Accept-Language, else Korean, the language of the lesson.

Every string a page shows lives in gettext catalogues under translations/,
made and checked with Babel. They are compiled in memory, and compiled again
when a .po file changes on disk, the way Jinja re-reads an edited template:
an edited translation shows on the next request, without a restart.

A .po file is read exactly as written. Babel's reader guesses where a line is
broken (a missing quote cut the last letter off, silently), so each line is
checked first, and a file with a mistake is not used: the site keeps the
catalogue it read before, says once in the terminal which file and line, and
Catalogues.problems() tells the practice page. A file broken when the server
starts does not stop it (a learner's typo in a translation would otherwise
take the whole site down at the next code edit under --reload): that
language shows its text in English until the file is fixed. A missing file
still stops the start, as a broken install should.
"""

from __future__ import annotations

import gettext
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
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


# What can be wrong with a .po file, as the terminal and the practice page say it.
BROKEN_QUOTES = N_(
    "A quoted text is broken: each text must start and end with a double quote, "
    "and a double quote inside it needs a backslash before it."
)
UNKNOWN_LINE = N_("This line is not a comment, a msgid, a msgstr or a quoted text.")
MISSING_MSGSTR = N_("This msgid has no msgstr after it.")
STRAY_TEXT = N_("This quoted text belongs to no msgid or msgstr.")
NOT_UTF8 = N_("The file is not valid UTF-8: save it as UTF-8.")
EMPTY_FILE = N_("The file is empty.")
MISSING_FILE = N_("The file is missing.")
UNREADABLE_FILE = N_("The file cannot be read.")
BROKEN_PLACEHOLDERS = N_(
    "This translation has a placeholder the English text does not have "
    "(a name in brackets after a percent sign), or a lone percent sign."
)
NOT_A_CATALOGUE = N_("The file cannot be read as a gettext catalogue.")
KEPT_BEFORE = N_("The site keeps the translations it read before.")
SHOWN_IN_ENGLISH = N_("This language's text is shown in English until the file is fixed.")
# Babel's own words for what it refuses (read_po with abort_invalid), and ours for each.
BABEL_PROBLEMS = (
    ("Unknown or misformatted keyword", UNKNOWN_LINE),
    ("missing msgstr", MISSING_MSGSTR),
    ("Got line starting with", STRAY_TEXT),
)
# A line that should hold one whole quoted text (after a keyword, or on its own) and does not: a quote missing
# at either end, or one inside without its backslash.
BROKEN_QUOTED_LINE = re.compile(
    r"^[ \t]*+(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)(?=[ \t\r]|$)[ \t]*+|(?=\"))"  # a keyword, or a quote
    r'(?!"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"[ \t\r]*$)',  # and not one whole quoted text to the end of the line
    re.MULTILINE,
)
PLACEHOLDER_NAME = re.compile(r"%\((\w+)\)")


class CatalogueError(ValueError):
    """A .po file that cannot be used as written: the line it is on (from 1; None for the whole file) and what is
    wrong, a catalogue message."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.message, self.line = message, line


@dataclass(frozen=True)
class CatalogueProblem:
    """A .po file the site could not use: where, and what is wrong. `message` is a catalogue message (English):
    show it with the page's gettext. `line` counts from 1; None when the problem is the whole file."""

    path: Path
    line: int | None
    message: str


def compile_catalogue(po_path: Path, language: str) -> gettext.GNUTranslations:
    """Given a .po file and its language, return it compiled; raise CatalogueError for a file with a mistake."""
    catalog = read_catalogue(po_path.read_bytes(), language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def read_catalogue(content: bytes, language: str) -> Catalog:
    """Given a .po file's bytes, return its catalogue; raise CatalogueError, with the line, where it is not
    exactly what gettext reads: Babel's reader alone guesses, and a broken line shows as cut text."""
    if not content.strip():
        raise CatalogueError(EMPTY_FILE, None)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CatalogueError(NOT_UTF8, content[: error.start].count(b"\n") + 1) from None
    check_quotes(text)
    try:
        # Split at \n only, as Babel splits a file: a translation may hold other line separators.
        catalog = read_po(text.split("\n"), locale=language, abort_invalid=True)
    except PoFileError as error:
        said = next((ours for babels, ours in BABEL_PROBLEMS if str(error).startswith(babels)), NOT_A_CATALOGUE)
        raise CatalogueError(said, error.lineno + 1) from None
    for message in catalog:
        if not keeps_placeholders(message):
            raise CatalogueError(BROKEN_PLACEHOLDERS, message.lineno)
    return catalog


def check_quotes(text: str) -> None:
    """Raise CatalogueError at the first line whose text is not one whole quoted string (a quote missing at
    either end, or an unescaped one inside). Lines Babel itself refuses are left to it."""
    broken = BROKEN_QUOTED_LINE.search(text)
    if broken:
        raise CatalogueError(BROKEN_QUOTES, text.count("\n", 0, broken.start()) + 1)


def keeps_placeholders(message: Message) -> bool:
    """Whether a translation can be filled in wherever its English text can: every page fills in each text,
    so a translation with a placeholder the English lacks, or a lone %, broke every page that shows it."""
    if not message.id or not message.string or message.fuzzy:
        return True
    english, translations = texts(message.id), texts(message.string)
    values = {name: 1 for text in english for name in PLACEHOLDER_NAME.findall(text)}
    if message.pluralizable:
        values["num"] = 1  # what {% trans count=… %} and ngettext fill in
    if not all(can_fill(text, values) for text in english):
        return True  # the English is not filled in either (a text only Python shows, as it is)
    return all(can_fill(text, values) for text in translations if text)


def texts(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A message's id or string as its texts: one, or one per plural form."""
    return (value,) if isinstance(value, str) else tuple(value)


def can_fill(text: str, values: dict[str, int]) -> bool:
    try:
        text % values
    except (KeyError, ValueError, TypeError):
        return False
    return True


def english_only(language: str) -> gettext.GNUTranslations:
    """A catalogue with no translations: every text as its English msgid."""
    compiled = BytesIO()
    write_mo(compiled, Catalog(locale=language))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


FileVersion = tuple[int, int] | None  # (mtime in ns, size) of a .po file; None while it is missing


@dataclass(frozen=True)
class Reading:
    """What the site made of one version of a .po file: the translations it uses, and the problem, if any."""

    version: FileVersion
    translations: gettext.GNUTranslations
    problem: CatalogueProblem | None = None
    in_english: bool = False  # no version could be read yet: every text in English


def file_version(path: Path) -> FileVersion:
    try:
        stat = path.stat()
    except OSError:  # deleted, or renamed away by an editor this very moment
        return None
    return (stat.st_mtime_ns, stat.st_size)


class Catalogues:
    """The compiled catalogue of each language, compiled again when its .po file changes."""

    def __init__(self, directory: Path) -> None:
        self._paths = {language: directory / language / "LC_MESSAGES" / "messages.po" for language in LANGUAGES}
        # Each is read when first used (webapp/lifespan.py reads both soon after start-up): reading them here
        # would make every start, and every restart after a code edit, about 25 ms slower.
        self._readings: dict[str, Reading] = {}
        self._lock = threading.Lock()
        for path in self._paths.values():
            if not path.is_file():
                raise RuntimeError(f"Missing translation catalogue {path}")

    def get(self, language: str) -> gettext.GNUTranslations:
        """Given a language code, return its catalogue as the .po file on disk says now (the last one that could
        be read, while the file has a mistake)."""
        version = file_version(self._paths[language])
        reading = self._readings.get(language)
        if reading is not None and reading.version == version:
            return reading.translations
        with self._lock:
            reading = self._readings.get(language)
            if reading is None or reading.version != version:
                reading = self._readings[language] = self._read(language, version, before=reading)
            return reading.translations

    def problems(self) -> tuple[CatalogueProblem, ...]:
        """The .po files the site cannot use as they are on disk now, with the line and what is wrong."""
        for language in LANGUAGES:
            self.get(language)
        return tuple(reading.problem for reading in self._readings.values() if reading.problem is not None)

    def _read(self, language: str, version: FileVersion, *, before: Reading | None) -> Reading:
        """Given a version of a language's .po file and what was made of the one before (None at start-up), return
        what to use now. A file with a mistake is said once in the terminal; one caught half-written by an editor
        is read again, finished, on the next request (its mtime or size has changed)."""
        path = self._paths[language]
        try:
            if version is None:
                raise CatalogueError(MISSING_FILE, None)
            return Reading(version, compile_catalogue(path, language))
        except CatalogueError as error:
            problem = CatalogueProblem(path, error.line, error.message)
        except OSError:
            problem = CatalogueProblem(path, None, UNREADABLE_FILE)
        if before is None or before.in_english:
            self._say(problem, SHOWN_IN_ENGLISH)
            return Reading(version, before.translations if before else english_only(language), problem, in_english=True)
        self._say(problem, KEPT_BEFORE)
        return Reading(version, before.translations, problem)

    def _say(self, problem: CatalogueProblem, consequence: str) -> None:
        """One line in the terminal, in the system's language: where, what is wrong, and what the site does."""
        from webapp.terminal import system_language  # terminal.py imports this module

        reading = self._readings.get(system_language())
        translate = reading.translations.gettext if reading else gettext.NullTranslations().gettext
        where = str(problem.path) if problem.line is None else f"{problem.path}:{problem.line}"
        logger.warning("%s: %s %s", where, translate(problem.message), translate(consequence))


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
