"""Bad input: nothing outside static/ and templates/ is ever shown, and nothing answers 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import LiveServer, raw_get
from webapp.settings import Settings
from webapp.sources import SourceNotFound, resolve_inside

# Files outside the served folders, and a line each one contains.
SECRETS = {"webapp/main.py": b"def create_app", "etc/passwd": b"root:"}

TRAVERSALS = [
    "../webapp/main.py",
    "%2e%2e/webapp/main.py",
    "%2E%2E%2Fwebapp%2Fmain.py",
    "%252e%252e/webapp/main.py",
    "..%2fwebapp%2fmain.py",
    "..%5cwebapp%5cmain.py",
    "..\\webapp\\main.py",
    "....//webapp/main.py",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%c0%ae%c0%ae/webapp/main.py",
    "%00",
    "index.html%00.css",
    "a" * 5000,
]
PREFIXES = ["/static/", "/source/static/", "/source/templates/"]


@pytest.mark.e2e
@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_traversal_attempts_answer_404_without_contents(live_server: LiveServer, prefix: str, attempt: str) -> None:
    status, body = raw_get(live_server.port, prefix + attempt)
    assert status == 404, body
    for secret in SECRETS.values():
        assert secret not in body


@pytest.mark.e2e
@pytest.mark.parametrize("prefix", ["/static/", "/source/static/"])
@pytest.mark.parametrize(
    "attempt", ["../templates/base.html", "%2e%2e/templates/base.html", "..%2ftemplates/base.html"]
)
def test_static_side_cannot_reach_templates(live_server: LiveServer, prefix: str, attempt: str) -> None:
    status, body = raw_get(live_server.port, prefix + attempt)
    assert status == 404, body
    assert b"{% block" not in body


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    return secret


def test_symlink_out_of_static_is_not_followed(client: TestClient, site_dirs: Settings, outside_file: Path) -> None:
    (site_dirs.static_dir / "leak.txt").symlink_to(outside_file)
    (site_dirs.static_dir / "leakdir").symlink_to(outside_file.parent, target_is_directory=True)
    for path in ("/static/leak.txt", "/static/leakdir/secret.txt", "/source/static/leak.txt"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "TOP SECRET" not in response.text


def test_symlink_loop_answers_404(client: TestClient, site_dirs: Settings) -> None:
    loop = site_dirs.static_dir / "loop"
    loop.symlink_to(loop)
    assert client.get("/static/loop").status_code == 404
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


@pytest.mark.parametrize(
    "path",
    [
        "/dynamic?name=%ff%fe",
        "/dynamic?name=" + "x" * 10000,
        "/api/inspect?%ff=%fe",
        "/api/requests?limit=-1",
        "/static/index.html?x=%00",
        "/source/static/%ff",
    ],
)
def test_odd_input_never_answers_500(client: TestClient, path: str) -> None:
    assert client.get(path).status_code < 500
