"""Korean as a careful Korean writer would write it (see KOREAN.md): one particle chosen per word, never
"을(를)", none glued to a variable, and times with 오전/오후, never AM/PM."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from webapp.paths import PROJECT_ROOT

KO_CATALOGUE = PROJECT_ROOT / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
KO_STATIC_PAGE = PROJECT_ROOT / "static" / "index.html"
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
