"""Rendering: escaped, in the visitor's language, remembered when picked, and re-read after an edit."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from webapp.i18n import Catalogues
from webapp.links import Links
from webapp.paths import TRANSLATIONS_DIR
from webapp.settings import Settings
from webapp.templating import Templates, TranslateConstantText, TranslatedEnvironment


def test_a_missing_templates_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="nowhere"):
        Templates(tmp_path / "nowhere", Links(FastAPI()), Catalogues(TRANSLATIONS_DIR))


def test_html_templates_escape_what_they_are_given(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>{{ text }}</p>")
    templates = Templates(tmp_path, Links(FastAPI()), Catalogues(TRANSLATIONS_DIR))
    assert templates.get_template("ko", "page.html").render(text="<b>&") == "<p>&lt;b&gt;&amp;</p>"


def test_every_page_varies_by_language(client: TestClient) -> None:
    assert client.get("/compare").headers["vary"] == "Accept-Language, Cookie"


def test_a_picked_language_is_remembered_once(client: TestClient) -> None:
    picked = client.get("/compare?lang=en")
    assert "lang=en; Max-Age=31536000; Path=/; SameSite=lax" in picked.headers["set-cookie"]
    again = client.get("/compare?lang=en")  # the cookie already says so: nothing to set
    assert "set-cookie" not in again.headers
    assert "set-cookie" not in client.get("/compare?lang=xx").headers


def test_an_edited_template_shows_on_the_next_request(client: TestClient, site_settings: Settings) -> None:
    template = site_settings.templates_dir / "compare.html"
    assert "edited in class" not in client.get("/compare").text
    template.write_text(
        template.read_text().replace("{% block content %}", "{% block content %}<p>edited in class</p>")
    )
    later = os.stat(template).st_mtime + 2  # a later second, as a real edit would be
    os.utime(template, (later, later))
    assert "edited in class" in client.get("/compare").text


PAGES = ["/dynamic", "/compare", "/guestbook", "/log", "/bench", "/source/templates/dynamic.html", "/docs"]


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_page_describes_itself_in_its_language(client: TestClient, language: str) -> None:
    descriptions = []
    for path in PAGES:
        match = re.search(r'<meta name="description" content="([^"]+)">', client.get(f"{path}?lang={language}").text)
        assert match, path
        descriptions.append(match.group(1))
    assert len(set(descriptions)) == len(PAGES)  # one of its own per page
    assert all(bool(re.search(r"[\uac00-\ud7a3]", text)) == (language == "ko") for text in descriptions)


def test_every_page_points_to_itself_in_both_languages_by_full_address(client: TestClient) -> None:
    page = client.get("/dynamic?name=x").text
    alternates = dict(re.findall(r'<link rel="alternate" hreflang="(\w+)" href="([^"]+)">', page))
    assert alternates == {
        "ko": "http://testserver/dynamic?name=x&amp;lang=ko",
        "en": "http://testserver/dynamic?name=x&amp;lang=en",
    }


def _environment(language: str) -> TranslatedEnvironment:
    return TranslatedEnvironment(language, Catalogues(TRANSLATIONS_DIR).get(language))


def test_constant_text_is_translated_once_when_the_template_is_compiled() -> None:
    code = _environment("ko").compile('<a>{{ _("Home (static)") }}</a>{% trans %}Benchmark{% endtrans %}', raw=True)
    assert "홈(정적)" in code and "벤치마크" in code
    assert "gettext" not in code  # nothing is looked up while rendering


def test_values_in_translated_text_are_still_filled_in_and_escaped() -> None:
    template = _environment("ko").from_string(
        "{% trans trimmed name=name %}Hello, <strong>{{ name }}</strong>!{% endtrans %} {{ _('100%% sure') }}"
    )
    assert template.render(name="<b>&") == "안녕하세요, <strong>&lt;b&gt;&amp;</strong>님! 100% sure"


@pytest.mark.parametrize("language", ["ko", "en"])
def test_pages_are_the_same_as_with_jinjas_own_translation_at_render_time(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    # Without a database the pages have no counts and no times: the same bytes on every render.
    pages = ["/compare", "/bench", "/guestbook", "/docs", "/source/templates/base.html"]
    unreachable = "sqlite://"  # refused at once, where a file that cannot be opened is tried four times
    compiled_with_text = make_client(database_url=unreachable)
    expected = {path: compiled_with_text.get(f"{path}?lang={language}").text for path in pages}
    monkeypatch.setattr(TranslateConstantText, "visit_Call", lambda self, node: node)
    translated_at_render_time = make_client(database_url=unreachable)
    for path in pages:
        assert translated_at_render_time.get(f"{path}?lang={language}").text == expected[path], path
