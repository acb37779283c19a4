"""Korean and English: catalogues complete, the language chosen per request, static pages per language."""

from __future__ import annotations

import functools
import logging
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

from webapp import i18n
from webapp.i18n import (
    LANGUAGES,
    CatalogueError,
    CatalogueProblem,
    Catalogues,
    format_datetime_for,
    format_number_for,
    parse_accept_language,
    read_catalogue,
)
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


KOREAN_TITLE = 'msgid "Dynamic page"\nmsgstr "동적 페이지"\n'


def _korean_po(translations: Path) -> Path:
    return translations / "ko" / "LC_MESSAGES" / "messages.po"


def _edit(po: Path, old: str, new: str) -> int:
    """Replace `old` in a .po file with `new`; return the line (from 1) where the edit starts."""
    text = po.read_text(encoding="utf-8")
    assert old in text
    po.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


@pytest.fixture
def translations(tmp_path: Path) -> Path:
    copied = tmp_path / "translations"
    shutil.copytree(PROJECT_ROOT / "translations", copied)
    return copied


def _running(translations: Path) -> Catalogues:
    """The catalogues of a server that has started and read both languages (webapp/lifespan.py does soon after
    start-up, or the first page does)."""
    catalogues = Catalogues(translations)
    for language in i18n.LANGUAGES:
        catalogues.get(language)
    return catalogues


def test_a_missing_quote_keeps_the_last_good_text_and_is_said_once_with_its_line(
    translations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalogues = _running(translations)
    po = _korean_po(translations)
    line = _edit(po, KOREAN_TITLE, 'msgid "Dynamic page"\nmsgstr "고친 제목\n') + 1
    with caplog.at_level(logging.WARNING, logger="webapp.i18n"):
        for _ in range(3):  # three requests: one line in the terminal
            assert catalogues.get("ko").gettext("Dynamic page") == "동적 페이지"  # not "고친 제", cut by Babel
    assert catalogues.problems() == (CatalogueProblem(po, line, i18n.BROKEN_QUOTES),)
    said = [record.getMessage() for record in caplog.records if record.name == "webapp.i18n"]
    assert len(said) == 1, said
    assert said[0].startswith(f"{po}:{line}: ")

    _edit(po, 'msgstr "고친 제목\n', 'msgstr "고친 제목"\n')
    assert catalogues.get("ko").gettext("Dynamic page") == "고친 제목"
    assert catalogues.problems() == ()


def test_a_file_caught_half_written_is_read_again_when_finished(translations: Path) -> None:
    catalogues = _running(translations)
    po = _korean_po(translations)
    whole = po.read_text(encoding="utf-8").replace(KOREAN_TITLE, 'msgid "Dynamic page"\nmsgstr "고친 제목"\n')
    cut = whole.index('msgstr "고친 제목"') + len('msgstr "고친')
    po.write_text(whole[:cut], encoding="utf-8")  # an editor still writing: the request reads what is there
    assert [problem.message for problem in catalogues.problems()] == [i18n.BROKEN_QUOTES]
    assert catalogues.get("ko").gettext("Dynamic page") == "동적 페이지"
    po.write_text(whole, encoding="utf-8")
    assert catalogues.get("ko").gettext("Dynamic page") == "고친 제목"
    assert catalogues.problems() == ()


def test_a_file_emptied_for_a_moment_keeps_the_text(translations: Path) -> None:
    catalogues = _running(translations)
    po = _korean_po(translations)
    whole = po.read_bytes()
    po.write_bytes(b"")  # what an editor's truncating open leaves before it writes
    assert catalogues.get("ko").gettext("Dynamic page") == "동적 페이지"
    assert catalogues.problems() == (CatalogueProblem(po, None, i18n.EMPTY_FILE),)
    po.write_bytes(whole)
    assert catalogues.problems() == ()


def test_a_deleted_file_keeps_the_text_until_it_is_back(translations: Path) -> None:
    catalogues = _running(translations)
    po = _korean_po(translations)
    aside = po.rename(po.with_name("aside.po"))
    assert catalogues.get("ko").gettext("Dynamic page") == "동적 페이지"
    assert catalogues.problems() == (CatalogueProblem(po, None, i18n.MISSING_FILE),)
    aside.rename(po)
    assert catalogues.problems() == ()


def test_a_catalogue_broken_at_start_up_shows_english_and_is_said(
    translations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    po = _korean_po(translations)
    line = _edit(po, KOREAN_TITLE, 'msgid "Dynamic page"\nmsgstr 동적 페이지"\n') + 1
    with caplog.at_level(logging.WARNING, logger="webapp.i18n"):
        catalogues = _running(translations)  # the server starts: a learner's typo must not stop it
    assert catalogues.get("ko").gettext("Dynamic page") == "Dynamic page"
    assert catalogues.get("ko").gettext("Home") == "Home"  # the whole language, not only the broken message
    assert catalogues.get("en").gettext("Dynamic page") == "Dynamic page"
    assert catalogues.problems() == (CatalogueProblem(po, line, i18n.BROKEN_QUOTES),)
    said = [record.getMessage() for record in caplog.records if record.name == "webapp.i18n"]
    assert len(said) == 1 and said[0].startswith(f"{po}:{line}: "), said

    _edit(po, 'msgstr 동적 페이지"', 'msgstr "동적 페이지"')
    assert catalogues.get("ko").gettext("Dynamic page") == "동적 페이지"
    assert catalogues.problems() == ()


HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'


@pytest.mark.parametrize(
    ("entry", "message", "line"),
    [
        ('msgid "Home"\nmsgstr "홈\n', i18n.BROKEN_QUOTES, 6),
        ('msgid "Home"\nmsgstr 홈"\n', i18n.BROKEN_QUOTES, 6),
        ('msgid "Home"\nmsgstr "홈 "첫" 화면"\n', i18n.BROKEN_QUOTES, 6),
        ('msgid "Home"\nmsgstr ""\n"홈\n', i18n.BROKEN_QUOTES, 7),
        ('msgid "Home"\nmsgid_plural\n', i18n.BROKEN_QUOTES, 6),
        ('msgid "Home"\nmsgsrt "홈"\n', i18n.UNKNOWN_LINE, 6),
        ('msgid "Home"\n\nmsgid "Back"\nmsgstr "뒤로"\n', i18n.MISSING_MSGSTR, 5),
        ('msgid "Home"\nmsgstr "홈"\n# a comment\n"홈"\n', i18n.STRAY_TEXT, 8),
        ('msgid "Hello %(name)s"\nmsgstr "안녕하세요 %(이름)s"\n', i18n.BROKEN_PLACEHOLDERS, 5),
        ('msgid "Done"\nmsgstr "100% 완료"\n', i18n.BROKEN_PLACEHOLDERS, 5),
    ],
)
def test_a_catalogue_is_read_exactly_as_written(entry: str, message: str, line: int) -> None:
    with pytest.raises(CatalogueError) as raised:
        read_catalogue((HEADER + entry).encode(), "ko")
    assert (raised.value.message, raised.value.line) == (message, line)


@pytest.mark.parametrize(
    ("entry", "translated"),
    [
        ('msgid "Say \\"hi\\""\nmsgstr "\\"안녕\\"이라고 하세요"\n', '"안녕"이라고 하세요'),
        ('msgid "Home"\r\nmsgstr ""\r\n"홈"  \r\n', "홈"),
        ('#~ msgid "Old\n#~ msgstr "옛"\nmsgid "Home"\nmsgstr "홈"\n', "홈"),  # obsolete: not used
        ('msgid "Home"\nmsgstr "홈 %%"\n', "홈 %%"),
        ('msgid "Use 100%"\nmsgstr "100% 사용"\n', "100% 사용"),  # Python shows the English as it is
        ('msgid "Hello %(name)s"\nmsgstr "안녕하세요"\n', "안녕하세요"),  # a placeholder may be left out
    ],
)
def test_a_correct_catalogue_reads_as_written(entry: str, translated: str) -> None:
    catalog = read_catalogue((HEADER + entry).encode(), "ko")
    assert [message.string for message in catalog if message.id][-1] == translated


def test_a_file_that_is_not_utf8_is_refused_with_its_line() -> None:
    with pytest.raises(CatalogueError) as raised:
        read_catalogue((HEADER + 'msgid "Home"\nmsgstr "').encode() + "홈".encode()[:2] + b'"\n', "ko")
    assert (raised.value.message, raised.value.line) == (i18n.NOT_UTF8, 6)


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
