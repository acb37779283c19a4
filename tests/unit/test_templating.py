"""Rendering: escaped, in the visitor's language, remembered when picked, and re-read after an edit."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from webapp.links import Links
from webapp.settings import Settings
from webapp.templating import create_templates


def test_a_missing_templates_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="nowhere"):
        create_templates(tmp_path / "nowhere", Links(FastAPI()))


def test_html_templates_escape_what_they_are_given(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>{{ text }}</p>")
    templates = create_templates(tmp_path, Links(FastAPI()))
    assert templates.get_template("page.html").render(text="<b>&") == "<p>&lt;b&gt;&amp;</p>"


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
