"""Words a lesson beginner has not met (ETag, 워커, p99…) are explained on the page that uses them, in its language."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Each page's terms, and how the page itself writes each (in either language): a box explains only what the page uses.
PAGE_TERMS = {
    "/compare": ["hash", "etag", "not_modified", "worker", "stack"],
    "/spectrum": ["hash", "etag", "not_modified", "worker", "stack", "shared_cache", "cache_key"],
    "/bench": ["throughput", "ceiling", "asgi", "middleware", "worker", "stack", "percentiles", "microseconds"],
}
WRITTEN_AS = {
    "hash": ("해시", "hash"),
    "etag": ("ETag",),
    "not_modified": ("304",),
    "worker": ("워커", "worker"),
    "stack": ("스택", "stack"),
    "shared_cache": ("공유 캐시", "앞단의 캐시", "shared cache", "cache in front"),
    "throughput": ("처리량", "throughput"),
    "ceiling": ("상한", "ceiling"),
    "asgi": ("ASGI",),
    "percentiles": ("p50", "p99"),
    "microseconds": ("µs",),
    "cache_key": ("캐시 키", "cache key"),
    "middleware": ("미들웨어", "middleware"),
}
LABELS = {
    "ko": {"hash": "해시", "worker": "워커", "stack": "스택", "throughput": "처리량", "ceiling": "상한",
           "shared_cache": "공유 캐시, 앞단의 캐시", "asgi": "ASGI 앱", "percentiles": "p50 / p99",
           "cache_key": "캐시 키", "middleware": "미들웨어"},
    "en": {"hash": "hash", "worker": "worker", "stack": "stack", "throughput": "throughput", "ceiling": "ceiling",
           "shared_cache": "shared cache, cache in front", "asgi": "ASGI app", "percentiles": "p50 / p99",
           "cache_key": "cache key", "middleware": "middleware"},
}  # fmt: skip


class _Terms(HTMLParser):
    """Each term of the page's box (`<dt id="term-…">`) with its explanation, and the page's text outside the box."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.terms: dict[str, list[str]] = {}
        self.outside: list[str] = []
        self._in_box = False
        self._term: str | None = None
        self._part = 0  # 0: the term's name, 1: its explanation

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element_id = dict(attrs).get("id") or ""
        if tag == "aside" and element_id == "terms":
            self._in_box = True
        elif tag == "dt" and element_id.startswith("term-"):
            self._term, self._part = element_id.removeprefix("term-"), 0
            self.terms[self._term] = ["", ""]
        elif tag == "dd" and self._term is not None:
            self._part = 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "aside":
            self._in_box = False
        elif tag == "dd":
            self._term = None

    def handle_data(self, data: str) -> None:
        if self._in_box and self._term is not None:
            self.terms[self._term][self._part] += data
        elif not self._in_box:
            self.outside.append(data)


def _read(html: str) -> _Terms:
    parser = _Terms()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize(("path", "terms"), PAGE_TERMS.items())
def test_each_term_a_page_uses_is_explained_there(
    client: TestClient, path: str, terms: list[str], language: str
) -> None:
    page = _read(client.get(path, params={"lang": language}).text)
    assert list(page.terms) == terms, path
    text = " ".join(page.outside)
    for term in terms:
        name, explanation = page.terms[term]
        assert name.strip() == LABELS[language].get(term, name.strip()), (path, term)
        assert len(explanation.split()) >= 5, (path, term, explanation)  # a sentence, not a word
        assert bool(HANGUL.search(explanation)) == (language == "ko"), (path, term, explanation)
        assert any(form in text for form in WRITTEN_AS[term]), f"{path} explains {term} but does not use it"


@pytest.mark.parametrize("path", ["/compare", "/spectrum"])
def test_workers_taking_turns_are_named_load_balancing(client: TestClient, path: str) -> None:
    assert "수업에서 말한 로드 밸런싱입니다" in client.get(path, params={"lang": "ko"}).text
    assert "the load balancing of the lesson" in client.get(path, params={"lang": "en"}).text


def test_the_compare_pages_served_by_note_names_load_balancing(client: TestClient) -> None:
    for language, words in (("ko", "로드 밸런싱"), ("en", "load balancing")):
        note = re.search(
            r"<li><strong>X-Served-By</strong>.*?</li>", client.get(f"/compare?lang={language}").text, re.S
        )
        assert note and words in note.group(0), language
        assert "http://127.0.0.1:8080/compare" in note.group(0)  # where "this page through nginx" is


def test_the_shared_cache_is_said_to_be_one_many_visitors_pass_through(client: TestClient) -> None:
    korean = _read(client.get("/spectrum?lang=ko").text).terms["shared_cache"][1]
    assert korean.startswith("nginx처럼 여러 방문자가 함께 거치는 캐시입니다.")
    english = _read(client.get("/spectrum?lang=en").text).terms["shared_cache"][1]
    assert english.startswith("A cache that many visitors' requests pass through, like nginx's.")
