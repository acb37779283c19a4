"""Rendering: escaped, in the visitor's language, remembered when picked, and re-read after an edit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from webapp.settings import Settings
from webapp.templating import create_templates


def test_a_missing_templates_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="nowhere"):
        create_templates(tmp_path / "nowhere")


def test_html_templates_escape_what_they_are_given(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>{{ text }}</p>")
    templates = create_templates(tmp_path)
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
