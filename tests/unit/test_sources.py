"""The source view: a static file's bytes, a template and the values it was last filled with; nothing from outside."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from webapp.settings import Settings
from webapp.sources import SourceNotFound, resolve_inside


def test_static_source_shows_the_file_bytes(client: TestClient, site_settings: Settings) -> None:
    response = client.get("/source/static/style.css")
    assert response.status_code == 200, response.text
    on_disk = (site_settings.static_dir / "style.css").read_bytes()
    assert html.escape(on_disk.decode(), quote=False) in response.text.replace("&#39;", "'").replace("&#34;", '"')
    assert hashlib.sha256(on_disk).hexdigest() in response.text


def test_static_source_escapes_markup(client: TestClient) -> None:
    page = client.get("/source/static/index.html").text
    assert "&lt;!doctype html&gt;" in page


def test_binary_file_is_shown_as_hex(client: TestClient, site_settings: Settings) -> None:
    (site_settings.static_dir / "pixel.bin").write_bytes(bytes([0, 1, 2, 255]) + b"AB")
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
    assert "아직 이 템플릿을 렌더링한 적이 없습니다" in page


def test_missing_source_answers_404_with_a_sentence(client: TestClient) -> None:
    response = client.get("/source/static/nope.css", params={"lang": "en"})
    assert response.status_code == 404
    assert response.json() == {"detail": "No such file in static/ to show."}
    korean = client.get("/source/static/nope.css", params={"lang": "ko"})
    assert korean.json() == {"detail": "static/ 폴더에 보여 줄 파일이 없습니다."}


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    return secret


def test_symlink_out_of_static_is_not_followed(client: TestClient, site_settings: Settings, outside_file: Path) -> None:
    (site_settings.static_dir / "leak.txt").symlink_to(outside_file)
    (site_settings.static_dir / "leakdir").symlink_to(outside_file.parent, target_is_directory=True)
    # A link is refused as nginx refuses it (403); a path through a linked folder is not found (404).
    for path, status in (
        ("/static/leak.txt", 403),
        ("/static/leakdir/secret.txt", 404),
        ("/source/static/leak.txt", 404),
    ):
        response = client.get(path)
        assert response.status_code == status, path
        assert "TOP SECRET" not in response.text


def test_symlink_loop_is_refused_not_followed(client: TestClient, site_settings: Settings) -> None:
    loop = site_settings.static_dir / "loop"
    loop.symlink_to(loop)
    assert client.get("/static/loop").status_code == 403
    assert client.get("/source/static/loop").status_code == 404


@pytest.mark.parametrize("relative", ["", "/etc/passwd", "..", "../x", "a\\b", "x\x00y", "sub/../../x", "."])
def test_resolve_inside_rejects_everything_outside(tmp_path: Path, relative: str) -> None:
    (tmp_path / "x").write_text("x")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(SourceNotFound):
        resolve_inside(root, relative)


def test_resolve_inside_accepts_a_file_in_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text("<p>")
    assert resolve_inside(tmp_path, "sub/page.html") == (tmp_path / "sub" / "page.html").resolve()


def test_template_source_says_where_the_sentences_of_the_page_come_from(client: TestClient) -> None:
    korean = client.get("/source/templates/dynamic.html?lang=ko").text
    assert "템플릿 안의 영어 문장(<code>_(&#34;…&#34;)</code>, <code>{% trans %}</code>)은 번역 키입니다." in korean
    assert "<code>translations/ko/LC_MESSAGES/messages.po</code>에 적힌 한국어 문장이 들어갑니다." in korean
    english = client.get("/source/templates/dynamic.html?lang=en").text
    assert "are translation keys: each page shows the sentence written for its language" in english
    assert 'id="translation-keys"' not in client.get("/source/static/style.css").text
