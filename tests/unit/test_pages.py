"""The dynamic page: made by server logic on every request, never cached."""

from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient


def _value(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, f"no element #{element_id} in the page"
    return match.group(1)


def test_dynamic_page_differs_on_every_request(client: TestClient) -> None:
    first, second = client.get("/dynamic"), client.get("/dynamic")
    assert first.status_code == second.status_code == 200
    assert first.content != second.content
    assert int(_value(second.text, "counter")) == int(_value(first.text, "counter")) + 1


def test_dynamic_page_shows_what_the_server_saw(client: TestClient) -> None:
    html = client.get("/dynamic", headers={"User-Agent": "LessonBrowser/1.0"}).text
    assert _value(html, "pid") == str(os.getpid())
    assert _value(html, "user-agent") == "LessonBrowser/1.0"
    assert _value(html, "client").startswith("testclient")
    stamp = re.search(r'<time id="server-time" datetime="([^"]+)">', html).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", stamp)
    assert _value(html, "server-time").startswith(f"{stamp[:4]}년 {int(stamp[5:7])}월 {int(stamp[8:10])}일")
    assert "datetime.now()" in html  # it says what made the value


def test_dynamic_page_is_never_cached_and_reports_its_database_and_render_time(client: TestClient) -> None:
    response = client.get("/dynamic")
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers
    timing = r'db;dur=\d+\.\d\d;desc="database", render;dur=\d+\.\d\d;desc="Jinja render"'
    assert re.fullmatch(timing, response.headers["server-timing"])


def test_name_is_echoed_as_a_greeting(client: TestClient) -> None:
    html = client.get("/dynamic", params={"name": "  태현  "}).text
    assert "안녕하세요, <strong>태현</strong>님!" in html


def test_name_with_markup_is_escaped(client: TestClient) -> None:
    html = client.get("/dynamic", params={"name": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_attribute_breaking_name_stays_inside_the_attribute(client: TestClient) -> None:
    html = client.get("/dynamic", params={"name": '"><img src=x onerror=alert(1)>'}).text
    assert "<img src=x" not in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_long_name_is_cut_to_forty_characters(client: TestClient) -> None:
    html = client.get("/dynamic", params={"name": "가" * 100}).text
    assert "<strong>" + "가" * 40 + "</strong>" in html
    assert "가" * 41 not in html


def test_compare_page_loads_its_script_and_names_both_sides(client: TestClient) -> None:
    html = client.get("/compare").text
    assert '<script src="/static/compare.js" defer></script>' in html
    assert 'data-url="/static/index.html"' in html
    assert 'data-url="/dynamic"' in html
    assert "둘 다 다시 불러오기" in html
    assert "<script>" not in html  # no inline script: everything the page runs is a static file


def test_dynamic_page_says_how_the_request_arrived(make_client: MakeClient) -> None:
    client = make_client(proxy_secret="only-nginx-knows")
    assert "uvicorn에 바로" in _value(client.get("/dynamic").text, "via")
    proxied = client.get("/dynamic", headers={"X-Forwarded-For": "203.0.113.9", "X-Proxy-Secret": "only-nginx-knows"})
    assert _value(proxied.text, "via").startswith("nginx → uvicorn")


@pytest.mark.parametrize(
    "headers", [{"X-Forwarded-For": "203.0.113.9"}, {"X-Proxy-Secret": "a guess"}, {"X-Proxy-Secret": ""}]
)
def test_a_client_cannot_make_the_page_claim_it_came_through_nginx(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    for secret in ("only-nginx-knows", ""):  # with the stack's secret set, and with none (plain uvicorn)
        page = make_client(proxy_secret=secret).get("/dynamic", headers=headers).text
        assert "uvicorn에 바로" in _value(page, "via")
