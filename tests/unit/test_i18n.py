"""Korean and English: catalogues complete, the language chosen per request, static pages per language."""

from __future__ import annotations

import functools
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from webapp.i18n import LANGUAGES, Catalogues, format_datetime_for, format_number_for, parse_accept_language
from webapp.paths import PROJECT_ROOT

HANGUL = re.compile(r"[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


@functools.cache
def _template_messages() -> frozenset[str]:
    """Every message the pages and the terminal show: the templates', and the `_("…")` calls in tools/ and webapp/."""
    method_map = [("**.html", "jinja2"), ("**.py", "python")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = [
        message
        for folder in ("templates", "tools", "webapp")
        for _, _, message, _, _ in extract_from_dir(str(PROJECT_ROOT / folder), method_map, options_map=options)
    ]
    return frozenset(message for message in found if isinstance(message, str))


def _catalog(language: str) -> dict[str, str]:
    with open(PROJECT_ROOT / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return {message.id: message.string for message in read_po(po) if message.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_on_a_page_has_a_translation(language: str) -> None:
    catalog = _catalog(language)
    missing = sorted(message for message in _template_messages() if not catalog.get(message))
    assert not missing, f"untranslated in {language}: {missing}"
    stale = sorted(set(catalog) - _template_messages())
    assert not stale, f"in the {language} catalogue but on no page any more: {stale}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language: str) -> None:
    for message, translation in _catalog(language).items():
        assert set(PLACEHOLDER.findall(translation)) == set(PLACEHOLDER.findall(message)), message


def test_no_korean_is_written_into_templates_or_scripts() -> None:
    """Korean lives in the catalogue (and the Korean static page), so English pages cannot show any by mistake."""
    for path in [*Path(PROJECT_ROOT, "templates").glob("*.html"), *Path(PROJECT_ROOT, "static").glob("*.js")]:
        assert not HANGUL.search(path.read_text(encoding="utf-8")), path


def test_english_pages_show_no_korean_except_the_language_switch(client: TestClient) -> None:
    for path in ("/dynamic", "/compare", "/guestbook", "/log", "/bench", "/source/templates/dynamic.html"):
        text = client.get(path, params={"lang": "en"}).text
        assert HANGUL.findall(text.replace("한국어", "")) == [], path


def test_query_parameter_wins_and_is_remembered_in_a_cookie(client: TestClient) -> None:
    response = client.get("/dynamic?lang=en", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in response.text
    assert "chosen by <code>?lang=</code>" in response.text
    assert response.cookies.get("lang") == "en"
    later = client.get("/dynamic", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in later.text
    assert "remembered from your last choice" in later.text


def test_accept_language_is_used_without_a_choice(client: TestClient) -> None:
    response = client.get("/compare", headers={"Accept-Language": "fr-CH, en;q=0.8, ko;q=0.5"})
    assert '<html lang="en">' in response.text
    assert "Accept-Language</code> header" in response.text
    assert "Accept-Language" in response.headers["vary"]


def test_korean_is_the_default(client: TestClient) -> None:
    response = client.get("/guestbook", headers={"Accept-Language": "fr, de;q=0.5"})
    assert '<html lang="ko">' in response.text
    assert "기본값(수업의 언어)" in response.text
    assert "lang" not in response.cookies


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    response = client.get("/dynamic?lang=xx", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in response.text
    assert "lang" not in response.cookies


def test_dates_and_numbers_follow_the_language(client: TestClient, site_settings) -> None:
    korean = client.get("/dynamic?lang=ko").text
    english = client.get("/dynamic?lang=en").text
    assert re.search(r'id="server-time"[^>]*>\d{4}년 \d{1,2}월 \d{1,2}일', korean)
    assert re.search(r'id="server-time"[^>]*>(January|February|March|April|May|June|July|August|September|'
                     r'October|November|December) \d{1,2}, \d{4}', english)  # fmt: skip
    client.get("/static/index.html")
    size = (site_settings.static_dir / "index.html").stat().st_size
    assert f'<td class="num">{size:,}</td>' in client.get("/log?lang=en").text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", ["ko", "ko", "en", "en"]),
        ("en;q=0.5, ko", ["ko", "en"]),
        ("*;q=0.1, fr;q=0", ["*"]),
        ("", []),
        ("en;q=abc", []),
    ],
)
def test_parse_accept_language(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_static_home_exists_once_per_language_and_links_across(client: TestClient) -> None:
    korean = client.get("/static/index.html").text
    english = client.get("/static/en/index.html").text
    assert '<html lang="ko">' in korean and '<html lang="en">' in english
    assert 'href="en/index.html"' in korean
    assert 'href="../index.html"' in english
    assert not HANGUL.findall(english.replace("한국어", ""))
    # The static pages cannot choose, so their links ask the dynamic pages for their own language.
    assert 'href="../../dynamic?lang=en"' in english
    assert 'href="../dynamic?lang=ko"' in korean


def test_an_edited_catalogue_is_read_again_and_an_unchanged_one_is_not(tmp_path: Path) -> None:
    translations = tmp_path / "translations"
    shutil.copytree(PROJECT_ROOT / "translations", translations)
    catalogues = Catalogues(translations)
    first = catalogues.get("ko")
    assert catalogues.get("ko") is first  # nothing changed: the compiled catalogue is reused
    assert first.gettext("Dynamic page") == "동적 페이지"

    po = translations / "ko" / "LC_MESSAGES" / "messages.po"
    po.write_text(
        po.read_text(encoding="utf-8").replace('msgstr "동적 페이지"', 'msgstr "고친 제목"'), encoding="utf-8"
    )
    assert catalogues.get("ko").gettext("Dynamic page") == "고친 제목"
    assert catalogues.get("en").gettext("Dynamic page") == "Dynamic page"


def test_a_missing_catalogue_fails_at_start_up(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "translations", tmp_path / "translations")
    (tmp_path / "translations" / "en" / "LC_MESSAGES" / "messages.po").unlink()
    with pytest.raises(RuntimeError, match="Missing translation catalogue"):
        Catalogues(tmp_path / "translations")


@pytest.mark.parametrize(
    ("hour", "format", "korean"),
    [
        (14, "short", "2026년 11월 28일 오후 2시 5분"),
        (9, "medium", "2026년 11월 28일 오전 9시 5분 7초"),
        (14, "long", "2026년 11월 28일 오후 2시 5분 7초 UTC"),
        (0, "medium", "2026년 11월 28일 오전 0시 5분 7초"),  # midnight: never "오전 12시", which reads as noon
        (12, "short", "2026년 11월 28일 오후 12시 5분"),
    ],
)
def test_korean_times_read_ohu_and_ojeon_never_am_pm(hour: int, format: str, korean: str) -> None:
    moment = datetime(2026, 11, 28, hour, 5, 7, tzinfo=UTC)
    assert format_datetime_for(moment, format, "ko") == korean
    assert format_datetime_for(moment, format, "en").endswith(("PM", "AM", "UTC"))


@given(number=st.integers(min_value=-(10**15), max_value=10**15), language=st.sampled_from(LANGUAGES))
def test_counts_are_grouped_exactly_as_babel_groups_them(number: int, language: str) -> None:
    assert format_number_for(number, language) == format_decimal(number, locale=language)
