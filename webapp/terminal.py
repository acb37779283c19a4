"""What the site and its tools print to a terminal, in the language of the system's locale.

A page chooses its language per request; a terminal has no request, so the
locale the learner's system runs in chooses: Korean when it says Korean,
English otherwise. The sentences come from the same catalogues as the pages
(translations/), so a program's line and a page's sentence are translated once.
Tools import `text` as `_`, the name Babel extracts.
"""

from __future__ import annotations

import functools
import gettext
import os
import sys
import unicodedata
from collections.abc import Iterable, Mapping

from webapp.i18n import CatalogueError, compile_catalogue, english_only
from webapp.paths import TRANSLATIONS_DIR

# POSIX: LC_ALL overrides LC_MESSAGES, which overrides LANG; the first one set decides.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
WINDOWS_KOREAN = 0x12  # the primary language of a Windows LANGID (LANG_KOREAN)


def system_language(environ: Mapping[str, str] | None = None, *, platform: str = sys.platform) -> str:
    """Given the environment, return "ko" when the system's locale is Korean, else "en".

    POSIX systems (and Windows shells that set them) say it in LC_ALL, LC_MESSAGES or
    LANG (`ko_KR.UTF-8`); Windows itself says it in the user's display language.
    """
    environ = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        if value := environ.get(name, ""):
            return "ko" if value.lower().startswith("ko") else "en"
    if platform == "win32" and _windows_display_language() == WINDOWS_KOREAN:
        return "ko"
    return "en"


def _windows_display_language() -> int | None:
    if sys.platform != "win32":
        return None
    import ctypes

    return int(ctypes.windll.kernel32.GetUserDefaultUILanguage()) & 0x3FF


@functools.cache
def translations(language: str) -> gettext.GNUTranslations:
    try:
        return compile_catalogue(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po", language)
    except (CatalogueError, OSError):  # a .po with a mistake: the site says where; lines stay readable in English
        return english_only(language)


def text(message: str) -> str:
    """Given an English message, return it in the system's language (read again for each message, so a
    test or a program may change the locale; the catalogue itself is compiled once per process)."""
    return translations(system_language()).gettext(message)


def width(line: str) -> int:
    """Given a line, return how many terminal columns it takes: Hangul and other wide letters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def pad(line: str, columns: int, *, right: bool = False) -> str:
    """Given a line, return it padded with spaces to `columns` terminal columns (on the left when `right`)."""
    spaces = " " * max(0, columns - width(line))
    return spaces + line if right else line + spaces


def aligned(rows: Iterable[tuple[str, str]]) -> str:
    """Given (label, value) rows, return them as lines whose values start in one column."""
    rows = list(rows)
    columns = max(width(label) for label, _value in rows) + 2
    return "\n".join(pad(label, columns) + value for label, value in rows)
