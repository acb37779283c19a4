"""Static files: the same bytes every time, with headers that make a browser revalidate, and every
refusal as the stack's nginx gives it (tests/e2e/test_static_edges.py asks both servers)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.permissions import make_unreadable, without_root_powers
from tests.unit.conftest import MakeClient
from webapp.caching import FINGERPRINTED, MADE_FOR_THIS_REQUEST
from webapp.paths import PROJECT_ROOT, STATIC_DIR
from webapp.settings import Settings
from webapp.static import CachedStaticFiles, file_etag

STATIC_FILES = ["index.html", "style.css", "compare.js", "layers.svg"]


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_file_bytes_equal_the_file_on_disk(client: TestClient, site_settings: Settings, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200, response.text
    assert response.content == (site_settings.static_dir / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("compare.js", "text/javascript; charset=utf-8"),
        ("layers.svg", "image/svg+xml"),
    ],
)
def test_static_files_have_the_type_a_browser_needs(client: TestClient, name: str, content_type: str) -> None:
    assert client.get(f"/static/{name}").headers["content-type"] == content_type


def test_static_response_carries_validators_and_a_revalidate_policy(client: TestClient) -> None:
    headers = client.get("/static/index.html").headers
    assert headers["etag"].startswith('"')
    assert headers["last-modified"].endswith("GMT")
    assert headers["cache-control"] == "no-cache"


def test_cache_policy_comes_from_settings(make_client: MakeClient) -> None:
    client = make_client(static_cache_control="public, max-age=60")
    assert client.get("/static/style.css").headers["cache-control"] == "public, max-age=60"


def test_unchanged_file_revalidates_with_304_and_no_body(client: TestClient) -> None:
    first = client.get("/static/index.html")
    again = client.get("/static/index.html", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "no-cache"


def test_if_modified_since_also_revalidates(client: TestClient) -> None:
    first = client.get("/static/style.css")
    again = client.get("/static/style.css", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 304


def test_edited_file_answers_200_with_the_new_bytes(client: TestClient, site_settings: Settings) -> None:
    page = site_settings.static_dir / "index.html"
    first = client.get("/static/index.html")
    page.write_text("<!doctype html><p>고쳤습니다 (edited)</p>", encoding="utf-8")
    later = os.stat(page).st_mtime + 2  # a different second, as a real edit after a reload would be
    os.utime(page, (later, later))
    again = client.get("/static/index.html", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200
    assert "고쳤습니다" in again.text
    assert again.headers["etag"] != first.headers["etag"]


def test_head_returns_headers_without_body(client: TestClient, site_settings: Settings) -> None:
    response = client.head("/static/style.css")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == (site_settings.static_dir / "style.css").stat().st_size


def test_range_returns_the_requested_bytes(client: TestClient, site_settings: Settings) -> None:
    response = client.get("/static/index.html", headers={"Range": "bytes=0-14"})
    assert response.status_code == 206
    assert response.content == (site_settings.static_dir / "index.html").read_bytes()[:15]
    assert response.headers["content-range"].startswith("bytes 0-14/")


def test_unsatisfiable_range_answers_416_with_the_files_policy(client: TestClient) -> None:
    # nginx adds a file's headers before it finds the range cannot be served: its 416 keeps them.
    response = client.get("/static/index.html", headers={"Range": "bytes=999999-"})
    assert response.status_code == 416
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(client: TestClient, method: str) -> None:
    response = client.request(method, "/static/index.html")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_etag_is_the_mtime_in_nanoseconds_and_the_size(client: TestClient, site_settings: Settings) -> None:
    stat = (site_settings.static_dir / "style.css").stat()
    assert client.get("/static/style.css").headers["etag"] == f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def test_two_same_size_saves_within_one_second_get_two_etags(client: TestClient, site_settings: Settings) -> None:
    # nginx's ETag (whole seconds and the size) stays the same here: a revalidating browser kept "v1".
    file = site_settings.static_dir / "edited.txt"
    second = 1_800_000_000 * 10**9
    seen = []
    for text, mtime_ns in (("v1", second + 100_000_000), ("v2", second + 150_000_000)):
        file.write_text(text)
        os.utime(file, ns=(mtime_ns, mtime_ns))
        seen.append(client.get("/static/edited.txt"))
    assert seen[0].headers["last-modified"] == seen[1].headers["last-modified"]  # the same second
    assert seen[0].headers["etag"] != seen[1].headers["etag"]
    again = client.get(
        "/static/edited.txt",
        headers={"If-None-Match": seen[0].headers["etag"], "If-Modified-Since": seen[0].headers["last-modified"]},
    )
    assert (again.status_code, again.text) == (200, "v2")


def _error_page(settings: Settings, name: str = "404.html") -> bytes:
    return (settings.static_dir / "errors" / name).read_bytes()


def _assert_refused(response: Any, status: int, page: bytes) -> None:
    """A refusal as nginx gives it: its status, the site's page, kept by nobody."""
    assert response.status_code == status, (response.request.url, response.text[:200])
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == page
    assert response.headers["cache-control"] == MADE_FOR_THIS_REQUEST


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.css",
        "/static/style.css/",  # a file asked for as a folder
        "/static/style.css/x.css",
        "/static/nothing/",
        "/static/" + "a" * 5000 + ".css",  # longer than a file name may be
        "/static/index.html%00.css",
        "/static/.env",
    ],
)
def test_what_is_not_there_is_404_with_the_sites_page(client: TestClient, site_settings: Settings, path: str) -> None:
    _assert_refused(client.get(path), 404, _error_page(site_settings))


def test_a_symlink_inside_static_is_refused_with_403_as_nginx_refuses_it(
    client: TestClient, site_settings: Settings
) -> None:
    static = site_settings.static_dir
    (static / "link.css").symlink_to("style.css")
    (static / "linkdir").symlink_to("en", target_is_directory=True)
    (static / "dangling.css").symlink_to("missing.css")
    (static / "loop").symlink_to("loop")
    for path in ("/static/link.css", "/static/linkdir", "/static/dangling.css", "/static/loop"):
        _assert_refused(client.get(path), 403, _error_page(site_settings))
    # A link on the way to a file is not a folder: 404, as nginx answers with `disable_symlinks on`.
    for path in ("/static/linkdir/index.html", "/static/linkdir/"):
        _assert_refused(client.get(path), 404, _error_page(site_settings))


def test_the_static_folder_itself_may_be_a_link(tmp_path: Path) -> None:
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "a.css").write_text("a {}")
    (tmp_path / "current").symlink_to("release", target_is_directory=True)
    client = TestClient(_static_app(tmp_path / "current"))
    assert client.get("/static/a.css").text == "a {}"


@pytest.mark.parametrize(
    "path",
    [
        "/static/stamp.0123456789.svg%0A",  # a newline after the name: nginx's `$` let it through
        "/static/stamp.0123456789.svg/",  # the name as a folder
        "/static/vite.0123456789.js",  # a file whose own name looks fingerprinted (there is no vite.js)
    ],
)
def test_what_only_looks_fingerprinted_is_404_and_kept_by_nobody(
    client: TestClient, site_settings: Settings, path: str
) -> None:
    shutil.copy(site_settings.static_dir / "stamp.svg", site_settings.static_dir / "vite.0123456789.js")
    _assert_refused(client.get(path), 404, _error_page(site_settings))


@pytest.mark.parametrize("asked", ["bytes=0-9", "bytes=999999-"])
def test_a_fingerprinted_file_is_sent_whole_whatever_the_range(
    client: TestClient, site_settings: Settings, asked: str
) -> None:
    response = client.get("/static/stamp.0123456789.svg", headers={"Range": asked})
    assert response.status_code == 200
    assert response.content == (site_settings.static_dir / "stamp.svg").read_bytes()
    assert response.headers["cache-control"] == FINGERPRINTED
    assert "accept-ranges" not in response.headers


@pytest.mark.parametrize(
    ("conditions", "status"),
    [
        ({"If-Match": '"nope"'}, 412),
        ({"If-Match": '"nope", {etag}'}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": "W/{etag}"}, 412),  # If-Match compares strongly
        ({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
        ({"If-Unmodified-Since": "{last_modified}"}, 200),
        ({"If-None-Match": "W/{etag}"}, 304),
        ({"If-None-Match": "*"}, 304),
        # Both must hold for a 304, and nginx takes only the exact time as "not modified since".
        ({"If-None-Match": "{etag}", "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
        ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 200),
        ({"If-Match": '"nope"', "If-None-Match": "{etag}"}, 412),  # a precondition first
    ],
)
@pytest.mark.parametrize("path", ["/static/stamp.svg", "/static/stamp.0123456789.svg"])
def test_conditional_requests_are_answered_by_nginxs_rules(
    client: TestClient, site_settings: Settings, conditions: dict[str, str], status: int, path: str
) -> None:
    file = site_settings.static_dir / "stamp.svg"
    validators = {"etag": file_etag(file.stat()), "last_modified": client.get(path).headers["last-modified"]}
    response = client.get(path, headers={name: value.format(**validators) for name, value in conditions.items()})
    assert response.status_code == status
    if status == 412:  # a refusal is about one request: never kept, least of all for a year
        assert response.headers["cache-control"] == MADE_FOR_THIS_REQUEST


def test_a_folder_answers_as_nginx_answers_it(client: TestClient, site_settings: Settings) -> None:
    static = site_settings.static_dir
    moved = client.get("/static/en?a=1", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (301, "/static/en/?a=1")
    assert moved.headers["cache-control"] == MADE_FOR_THIS_REQUEST
    index = client.get("/static/en/")
    assert (index.status_code, index.content) == (200, (static / "en" / "index.html").read_bytes())
    assert index.headers["cache-control"] == "no-cache"
    assert client.get("/static/").content == (static / "index.html").read_bytes()
    _assert_refused(client.get("/static/errors/"), 403, _error_page(site_settings))  # a folder without index.html


def test_the_error_pages_are_kept_by_nobody(client: TestClient) -> None:
    assert client.get("/static/errors/404.html").headers["cache-control"] == MADE_FOR_THIS_REQUEST


def test_a_post_is_405_for_a_file_and_404_where_there_is_none(client: TestClient, site_settings: Settings) -> None:
    refused = client.post("/static/index.html")
    _assert_refused(refused, 405, _error_page(site_settings, "400.html"))
    assert refused.headers["allow"] == "GET, HEAD"
    _assert_refused(client.post("/static/missing.css"), 404, _error_page(site_settings))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="binds the socket through /proc (Linux)")
def test_a_file_the_system_cannot_open_is_a_logged_500_with_the_sites_page(
    client: TestClient, site_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Opening a socket fails with ENXIO: neither missing nor forbidden, so a fault (nginx: 500, logged).
    folder = os.open(site_settings.static_dir, os.O_RDONLY)
    try:
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(f"/proc/self/fd/{folder}/socket.css")  # a short address, whatever tmp_path's length
            with caplog.at_level(logging.ERROR, logger="webapp.static"):
                response = client.get("/static/socket.css")
    finally:
        os.close(folder)
    _assert_refused(response, 500, _error_page(site_settings, "500.html"))
    _assert_logged_once(caplog, "static/socket.css", os.strerror(errno.ENXIO))


def test_a_disk_fault_is_a_logged_500_not_a_404(
    client: TestClient, site_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = os.fspath(site_settings.static_dir / "style.css")
    real_open = os.open

    def open_failing_on_the_broken_file(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == broken:
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_failing_on_the_broken_file)
    with caplog.at_level(logging.ERROR, logger="webapp.static"):
        response = client.get("/static/style.css")
    _assert_refused(response, 500, _error_page(site_settings, "500.html"))
    _assert_logged_once(caplog, "static/style.css", os.strerror(errno.EIO))


def _assert_logged_once(caplog: pytest.LogCaptureFixture, path: str, reason: str) -> None:
    """One line in the log says which file and why: no traceback (a fault on every request must not fill a disk)."""
    records = [record for record in caplog.records if record.name == "webapp.static"]
    assert len(records) == 1, records
    assert path in records[0].getMessage() and reason in records[0].getMessage()
    assert records[0].levelno == logging.ERROR and records[0].exc_info is None


@pytest.mark.parametrize(
    "attempt", ["/../outside.txt", "/../static_disallow/index.html", "/..", "/a/../../outside.txt", "//etc/passwd"]
)
def test_a_path_out_of_the_folder_is_404(tmp_path: Path, attempt: str) -> None:
    # Starlette's own traversal cases (tests/test_staticfiles.py), asked of the app directly as raw paths.
    static = _static_folder(tmp_path)
    (tmp_path / "outside.txt").write_text("outside")
    (tmp_path / "static_disallow").mkdir()
    (tmp_path / "static_disallow" / "index.html").write_text("private")
    app = CachedStaticFiles(directory=static, cache_control="no-cache")
    scope = {"type": "http", "method": "GET", "path": attempt, "headers": []}
    response = anyio.run(app.get_response, app.get_path(scope), scope)
    assert response.status_code == 404
    assert b"outside" not in response.body and b"private" not in response.body


def test_a_named_pipe_is_404_and_never_waited_on(client: TestClient, site_settings: Settings) -> None:
    os.mkfifo(site_settings.static_dir / "pipe.css")
    _assert_refused(client.get("/static/pipe.css"), 404, _error_page(site_settings))


# Permissions: tested in a process that permission bits apply to, even when the tests run as root.

ASK_AS_IS = """
import json, sys
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from webapp.static import CachedStaticFiles

app = Starlette(routes=[Mount("/static", CachedStaticFiles(directory=sys.argv[1], cache_control="no-cache"))])
answers = {}
with TestClient(app) as client:
    for path in sys.argv[2:]:
        response = client.get(path)
        answers[path] = [response.status_code, response.headers.get("content-type"), response.text]
print(json.dumps(answers))
"""


def test_what_the_server_may_not_read_is_403_before_the_answer_starts(tmp_path: Path) -> None:
    static = _static_folder(tmp_path)
    (static / "readable.css").write_text("a {}")
    (static / "secret.css").write_text("secret")
    (static / "locked").mkdir()
    (static / "locked" / "inner.css").write_text("secret")
    (static / "closed").mkdir()
    (static / "closed" / "index.html").write_text("secret")
    for unreadable in (static / "secret.css", static / "locked", static / "closed" / "index.html"):
        make_unreadable(unreadable)
    paths = ["/static/readable.css", "/static/secret.css", "/static/locked/inner.css", "/static/locked/"]
    paths += ["/static/closed/"]
    done = subprocess.run(
        [*without_root_powers(), sys.executable, "-c", ASK_AS_IS, str(static), *paths],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Before, Starlette sent 200 and its headers, then failed to open the file: the child's TestClient raised.
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert answers.pop("/static/readable.css") == [200, "text/css; charset=utf-8", "a {}"]
    page = (static / "errors" / "404.html").read_text()
    for path, answer in answers.items():
        assert answer == [403, "text/html; charset=utf-8", page], path


def _static_folder(tmp_path: Path) -> Path:
    """A static folder of its own with the site's error pages, reachable by a server without root's powers."""
    static = tmp_path / "static"
    shutil.copytree(STATIC_DIR / "errors", static / "errors")
    return static


def _static_app(directory: Path) -> Starlette:
    return Starlette(routes=[Mount("/static", CachedStaticFiles(directory=directory, cache_control="no-cache"))])
