"""The source view: a static file's bytes, a template and the values it was last filled with."""

from __future__ import annotations

import hashlib
import html

from fastapi.testclient import TestClient

from webapp.settings import Settings


def test_static_source_shows_the_file_bytes(client: TestClient, site_dirs: Settings) -> None:
    response = client.get("/source/static/style.css")
    assert response.status_code == 200, response.text
    on_disk = (site_dirs.static_dir / "style.css").read_bytes()
    assert html.escape(on_disk.decode(), quote=False) in response.text.replace("&#39;", "'").replace("&#34;", '"')
    assert hashlib.sha256(on_disk).hexdigest() in response.text


def test_static_source_escapes_markup(client: TestClient) -> None:
    page = client.get("/source/static/index.html").text
    assert "&lt;!doctype html&gt;" in page


def test_binary_file_is_shown_as_hex(client: TestClient, site_dirs: Settings) -> None:
    (site_dirs.static_dir / "pixel.bin").write_bytes(bytes([0, 1, 2, 255]) + b"AB")
    page = client.get("/source/static/pixel.bin").text
    assert "00 01 02 ff 41 42" in page
    assert "|....AB|" in page


def test_template_source_shows_the_latest_render_values(client: TestClient) -> None:
    client.get("/dynamic", params={"name": "민지"}, headers={"User-Agent": "Lesson/2"})
    page = client.get("/source/templates/dynamic.html").text
    assert "{{ values.counter }}" in page  # the template itself, escaped into the page
    assert "가장 최근에 채워 넣은 값" in page
    assert '<td class="wrap">민지</td>' in page
    assert '<td class="wrap">Lesson/2</td>' in page


def test_template_source_before_any_render_says_so(client: TestClient) -> None:
    page = client.get("/source/templates/dynamic.html").text
    assert "아직 이 템플릿을 그린 적이 없습니다" in page


def test_missing_source_answers_404_with_a_sentence(client: TestClient) -> None:
    response = client.get("/source/static/nope.css")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such file in static/ to show."}
