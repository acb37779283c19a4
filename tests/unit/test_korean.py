"""Korean as a careful Korean writer would write it (see KOREAN.md): one particle chosen per word, never
"을(를)", none glued to a variable, and times with 오전/오후, never AM/PM."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from webapp.paths import PROJECT_ROOT

KO_CATALOGUE = PROJECT_ROOT / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
KO_STATIC_PAGE = PROJECT_ROOT / "static" / "index.html"
EN_STATIC_PAGE = PROJECT_ROOT / "static" / "en" / "index.html"
KO_CLOCK_PAGE = PROJECT_ROOT / "static" / "clock.html"
EN_CLOCK_PAGE = PROJECT_ROOT / "static" / "en" / "clock.html"
ERROR_PAGES = sorted((PROJECT_ROOT / "static" / "errors").glob("*.html"))
# The Korean a visitor reads without a template: the home and clock pages, the error pages, the diagram.
KO_STATIC_FILES = [KO_STATIC_PAGE, KO_CLOCK_PAGE, *ERROR_PAGES, PROJECT_ROOT / "static" / "layers.svg"]
KOREAN_PAGES = [
    "/dynamic?lang=ko",
    "/compare?lang=ko",
    "/guestbook?lang=ko",
    "/log?lang=ko",
    "/bench?lang=ko",
    "/source/templates/dynamic.html?lang=ko",
]

# A particle left for the reader to choose, right after a word, a tag or a placeholder:
# 이름을(를), %(label)s(은), </a>(으)로, 값(이)라. A "(가)" opening a list item is not one.
PARENTHESISED_PARTICLE = re.compile(r"(?<=[^\s(])\((?:을|를|은|는|이|가|와|과|으로|로|으|아|야)\)")
# A particle glued to a variable, which cannot be right for every value: %(label)s은, {count}가.
PLACEHOLDER = r"(?:%\(\w+\)s|\{\w+\})"
PARTICLE_AFTER_PLACEHOLDER = re.compile(
    PLACEHOLDER + r"(?:</\w+>)*(?:을|를|은|는|이|가|와|과|으로|로|에|의|도)(?![\uac00-\ud7a3])"
)
AM_PM = re.compile(r"\b(?:AM|PM)\b")
# One word for each idea (KOREAN.md's term table), and a parenthesis attached to the Korean word before it.
# Each was once on the site: 새로 고침, 홈 페이지, "명령(…)을 실행" beside 명령어, 원본 for the source view,
# "Python 내부에서" in prose, 순수 nginx for "bare", and "데이터베이스에 연결할 수 없습니다 (database unavailable)".
WRONG_WORDS = {
    "새로 고침": re.compile(r"새로 고(?:침|치|칠)"),
    "홈 페이지": re.compile(r"홈 페이지"),
    "명령 (write 명령어)": re.compile(r"명령(?!어)"),
    "원본 (write 소스)": re.compile(r"원본"),
    "Python in prose (write 파이썬)": re.compile(r"Python(?! ?\d)"),
    "순수 for bare (write 기본 설정, 프레임워크 없는)": re.compile(r"순수"),
    "a space before a parenthesis": re.compile(r"[\uac00-\ud7a3] \("),
}


def _korean_catalogue() -> dict[str, str]:
    with KO_CATALOGUE.open("rb") as po:
        return {message.id: message.string for message in read_po(po) if message.id}


class _TextOnly(HTMLParser):
    """The text a reader sees between the tags; attribute values are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _page_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def test_no_korean_translation_leaves_a_particle_in_parentheses() -> None:
    wrong = {msgid: text for msgid, text in _korean_catalogue().items() if PARENTHESISED_PARTICLE.search(text)}
    assert not wrong, f"choose the particle for the word, or restructure: {wrong}"


def test_no_korean_translation_glues_a_particle_to_a_placeholder() -> None:
    wrong = {msgid: text for msgid, text in _korean_catalogue().items() if PARTICLE_AFTER_PLACEHOLDER.search(text)}
    assert not wrong, f"restructure so no particle follows the variable: {wrong}"


def test_the_korean_static_page_leaves_no_particle_in_parentheses() -> None:
    page = KO_STATIC_PAGE.read_text(encoding="utf-8")
    assert PARENTHESISED_PARTICLE.findall(page) == []


def test_the_rules_catch_what_they_are_for() -> None:
    assert PARENTHESISED_PARTICLE.search("메시지을(를) 적어 주세요.")
    assert PARENTHESISED_PARTICLE.search("%(label)s은(는) 40자까지")
    assert PARENTHESISED_PARTICLE.search('<a href="/x">/static/x</a>(으)로 보냅니다')
    assert not PARENTHESISED_PARTICLE.search("(가) 첫째 항목, 프로세스 번호(pid), 시각(UTC)")
    assert PARTICLE_AFTER_PLACEHOLDER.search("%(label)s에 제어 문자를 쓸 수 없습니다.")
    assert PARTICLE_AFTER_PLACEHOLDER.search("<strong>%(name)s</strong>을 보냅니다")
    assert not PARTICLE_AFTER_PLACEHOLDER.search("{count}번 요청해 본문이 {kinds}가지, %(name)s님, %(max)s자까지")
    assert AM_PM.search("2026년 11월 28일 PM 2:05")
    assert not AM_PM.search("2026년 11월 28일 오후 2:05, Jinja의 AMPLE, APM")
    assert _page_text('<p title="AM">오전</p><td data-x="(를)">값</td>') == "오전 값"


@pytest.fixture
def korean_client(client: TestClient) -> TestClient:
    """A client whose pages have something to show: a guestbook entry (a time) and a rendered /dynamic."""
    response = client.post("/api/guestbook", json={"name": "민지", "message": "안녕하세요"})
    assert response.status_code < 300, response.text
    assert client.get("/dynamic?lang=ko").status_code == 200
    return client


@pytest.mark.parametrize("path", KOREAN_PAGES)
def test_korean_pages_show_times_without_am_or_pm(korean_client: TestClient, path: str) -> None:
    response = korean_client.get(path)
    assert response.status_code == 200
    assert 'lang="ko"' in response.text
    text = _page_text(response.text)
    shown = [text[max(0, found.start() - 30) : found.end() + 10] for found in AM_PM.finditer(text)]
    assert not shown, f"write 오전/오후 (or 24-hour time), not AM/PM: {shown}"


@pytest.mark.parametrize("path", KOREAN_PAGES)
def test_korean_pages_leave_no_particle_in_parentheses(korean_client: TestClient, path: str) -> None:
    response = korean_client.get(path)
    assert response.status_code == 200
    assert PARENTHESISED_PARTICLE.findall(response.text) == []


def test_the_guestbook_shows_the_entry_with_its_time(korean_client: TestClient) -> None:
    """The AM/PM check above reads a time only if the guestbook shows one."""
    page = korean_client.get("/guestbook?lang=ko").text
    assert '<strong class="entry-name">민지</strong>' in page
    assert re.search(r'<time datetime="[^"]+">[^<]*\d[^<]*</time>', page)


def _wrong_words(text: str) -> list[str]:
    return [f"{name}: {found.group()!r}" for name, rule in WRONG_WORDS.items() for found in rule.finditer(text)]


def test_no_korean_translation_uses_a_word_the_term_table_replaced() -> None:
    wrong = {msgid: found for msgid, text in _korean_catalogue().items() if (found := _wrong_words(text))}
    assert not wrong, f"use KOREAN.md's word: {wrong}"


@pytest.mark.parametrize("path", KO_STATIC_FILES, ids=lambda path: path.name)
def test_no_korean_static_page_uses_a_word_the_term_table_replaced(path: Path) -> None:
    assert _wrong_words(path.read_text(encoding="utf-8")) == []


def test_the_word_rules_catch_what_they_are_for() -> None:
    caught = [
        "페이지를 새로 고침해 주세요.",
        "사이트의 홈 페이지입니다.",
        "<code>x</code> 명령(Linux)을 실행하고",
        "이 사이트 페이지의 원본입니다.",
        "소켓 없이 Python 내부에서",
        "순수 nginx",
        "연결할 수 없습니다 (database unavailable).",
    ]
    assert [text for text in caught if not _wrong_words(text)] == []
    assert (
        _wrong_words("명령어를 새로고침, 홈페이지, 소스, 파이썬, Python 3.13, 기본 설정 nginx, 번호(pid), (가) 항목")
        == []
    )


def _tour_items(page: str) -> list[str]:
    tour = re.search(r'<ol class="tour">(.*?)</ol>', page, re.DOTALL)
    assert tour, "the home page lost its tour list"
    return re.findall(r"<li>(.*?)</li>", tour.group(1), re.DOTALL)


@pytest.mark.parametrize(
    ("path", "sentence"), [(KO_STATIC_PAGE, r"아래 (\d+)번 항목"), (EN_STATIC_PAGE, r"step (\d+) below")]
)
def test_the_home_page_names_the_nginx_step_by_its_real_number(path: Path, sentence: str) -> None:
    page = path.read_text(encoding="utf-8")
    nginx_steps = [number for number, item in enumerate(_tour_items(page), start=1) if "tools.stack" in item]
    named = re.search(sentence, page)
    assert named, "the sentence pointing at the nginx step is gone"
    assert nginx_steps == [int(named.group(1))]


class _MenuText(HTMLParser):
    """The text of the page's <nav> menu."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag == "nav"

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == "nav"

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _menu_text(html: str) -> str:
    parser = _MenuText()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


@pytest.mark.parametrize("path", [*KOREAN_PAGES, "/compare?lang=ko", "/spectrum?lang=ko"])
def test_the_korean_menu_says_static_in_korean(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    menu = _menu_text(response.text)
    assert "홈(정적)" in menu and "static" not in menu, menu


@pytest.mark.parametrize("path", [KO_STATIC_PAGE, KO_CLOCK_PAGE], ids=lambda path: path.name)
def test_the_korean_static_pages_menu_says_static_in_korean(path: Path) -> None:
    menu = _menu_text(path.read_text(encoding="utf-8"))
    assert "홈(정적)" in menu and "static" not in menu, menu


def test_the_english_menu_keeps_its_english(client: TestClient) -> None:
    assert "Home (static)" in _menu_text(client.get("/dynamic?lang=en").text)
    for path in (EN_STATIC_PAGE, EN_CLOCK_PAGE):
        assert "Home (static)" in _menu_text(path.read_text(encoding="utf-8"))


def _clock_summary(page: Path, key: str, fetches: int) -> str:
    """What static/clock.js shows for `key` after `fetches` fetches: say() fills {count} with the number."""
    html = page.read_text(encoding="utf-8")
    messages = json.loads(unescape(re.search(r"data-messages='([^']*)'", html).group(1)))  # type: ignore[union-attr]
    return str(messages[key]).replace("{count}", str(fetches))


@pytest.mark.parametrize("key", ["sameDocument", "differentData"])
@pytest.mark.parametrize(("page", "all_of_them"), [(KO_CLOCK_PAGE, r"모두"), (EN_CLOCK_PAGE, r"\ball\b")])
def test_the_clock_page_says_nothing_untrue_after_its_first_fetch(page: Path, all_of_them: str, key: str) -> None:
    """clock.js shows both summaries after the page's first fetch too, and one fetch is not "all 1 times":
    the sentence must hold for any count, one included."""
    first = _clock_summary(page, key, 1)
    assert not re.search(all_of_them, first), first
    assert "1" in first and "3" in _clock_summary(page, key, 3)


@pytest.mark.parametrize("path", ERROR_PAGES, ids=lambda path: path.name)
def test_every_error_page_starts_with_its_status_code(path: Path) -> None:
    page = path.read_text(encoding="utf-8")
    code = {"live": "502"}.get(path.stem, path.stem)  # /live's own page for "no worker answers"
    for tag in ("title", "h1", "h2"):
        text = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
        assert text and text.group(1).startswith(f"{code} "), (tag, text and text.group(1))
