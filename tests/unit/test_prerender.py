"""tools.prerender: dynamic pages rendered once into static files, and every way it refuses to write."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import swap_folder_for_a_link
from tools import prerender as prerender_module
from tools import safefolder
from tools.prerender import (
    DEFAULT_OUT_FOLDER,
    MANIFEST_NAME,
    Page,
    PrerenderRefused,
    Written,
    main,
    prerender,
    url_of,
)
from webapp.i18n import compile_catalogue
from webapp.paths import STATIC_DIR, TRANSLATIONS_DIR
from webapp.process import now

# What the live /dynamic says that is true only of a page made for the one who reads it: a file made at build
# time must not say it (the msgids, so that the test follows the translations).
LIVE_ONLY = [
    "This page is not stored as a file. On every request the server's logic (<code>dynamic_page()</code> in "
    "<code>webapp/pages.py</code>) works out the values again and fills them into the template "
    "<code>templates/dynamic.html</code> to make the HTML. Reload (F5): the values below change.",
    "Values the server made for this request",
    "The browser connected straight to the web application server uvicorn. There is no web server in front.",
    "Your IP address and port as the server saw them. The port can change with each connection.",
    "How the browser introduced itself in a request header. Another browser shows something else.",
    "Why is it different every time?",
    "This page is a <strong>dynamic</strong> page: the <strong>web application server</strong> (uvicorn + FastAPI) "
    "made it from a template for this request.",
]
FROZEN = {"ko": "새로고침해도 바뀌지 않습니다", "en": "reloading does not change them"}
NOTICE = re.compile(r'<p class="lead" id="prerendered-notice">(.*?)</p>', re.S)


@pytest.fixture
def static_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of static/ (without what the command wrote there before), and a fresh SQLite database
    for the app the command starts."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'site.db'}")
    (tmp_path / "data").mkdir()
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy, ignore=shutil.ignore_patterns(DEFAULT_OUT_FOLDER))
    return copy


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under a folder (links not followed), with its bytes: what a refusal must leave as it was."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        for path in sorted(folder.rglob("*"))
    }


def _prerender(static_dir: Path) -> list[Written]:
    return prerender(["/dynamic"], static_dir=static_dir, out=static_dir / "prerendered")


def test_dynamic_page_is_written_in_both_languages_with_its_gzip(static_dir: Path) -> None:
    written = _prerender(static_dir)
    out = static_dir / "prerendered"
    assert [file.path for file in written] == [
        out / "dynamic.html",
        out / "dynamic.html.gz",
        out / "en" / "dynamic.html",
        out / "en" / "dynamic.html.gz",
    ]
    for html, heading, source in [
        (written[0], "<h1>동적 페이지</h1>", "GET /dynamic?lang=ko"),
        (written[2], "<h1>Dynamic page</h1>", "GET /dynamic?lang=en"),
    ]:
        data = html.path.read_bytes()
        assert data.startswith(b"<!doctype html>"), data[:100]
        assert heading in data.decode()
        assert html.source == source
        assert html.size == len(data)
        assert html.sha256 == hashlib.sha256(data).hexdigest()
        packed = Path(f"{html.path}.gz")
        assert gzip.decompress(packed.read_bytes()) == data
        assert packed.stat().st_mtime_ns == html.path.stat().st_mtime_ns


def test_the_gzip_is_the_same_for_the_same_page(static_dir: Path) -> None:
    # gzip's header holds a time unless told 0: the same bytes then always pack to the same file.
    written = _prerender(static_dir)
    data = written[0].path.read_bytes()
    assert written[1].path.read_bytes() == gzip.compress(data, compresslevel=9, mtime=0)


def test_the_manifest_records_what_was_written(static_dir: Path) -> None:
    written = _prerender(static_dir)
    out = static_dir / "prerendered"
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest == {file.path.relative_to(out).as_posix(): file.sha256 for file in written}
    assert sorted(_files(out)) == sorted([MANIFEST_NAME, "en", *manifest])  # no temporary file left behind


def test_running_again_overwrites_its_own_files_with_a_new_render(static_dir: Path) -> None:
    first = _prerender(static_dir)
    second = _prerender(static_dir)
    assert [file.path for file in first] == [file.path for file in second]
    assert first[0].sha256 != second[0].sha256  # a new time, a new request number inside
    assert hashlib.sha256(second[0].path.read_bytes()).hexdigest() == second[0].sha256


def test_url_of_gives_the_path_the_site_serves_the_file_at(static_dir: Path) -> None:
    assert url_of(static_dir / "prerendered" / "dynamic.html", static_dir) == "/static/prerendered/dynamic.html"
    assert url_of(static_dir / "prerendered/en/dynamic.html", static_dir) == "/static/prerendered/en/dynamic.html"


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("../elsewhere", "is outside the static folder"),
        ("../webapp", "is outside the static folder"),
        ("prerendered/../..", "is outside the static folder"),
        (".", "is the static folder itself"),
        ("prerendered/..", "is the static folder itself"),
    ],
)
def test_out_outside_the_static_folder_or_the_folder_itself_is_refused(static_dir: Path, out: str, reason: str) -> None:
    before = _files(static_dir.parent)
    with pytest.raises(PrerenderRefused, match=reason):
        prerender(["/dynamic"], static_dir=static_dir, out=static_dir / out)
    assert _files(static_dir.parent) == before


def test_out_through_a_symlink_leading_outside_is_refused(static_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (static_dir / "escape").symlink_to(outside)
    with pytest.raises(PrerenderRefused, match="outside the static folder"):
        prerender(["/dynamic"], static_dir=static_dir, out=static_dir / "escape" / "pages")
    assert list(outside.iterdir()) == []


def test_an_out_folder_swapped_for_a_link_while_rendering_gets_nothing(
    static_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone who may write in static/ puts a link where <out> goes after the checks, before the writes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    out = static_dir / "pre2"
    real_render = prerender_module.render_pages

    async def render_then_swap(*args: Any, **kwargs: Any) -> Any:
        rendered = await real_render(*args, **kwargs)
        out.symlink_to(outside)
        return rendered

    monkeypatch.setattr(prerender_module, "render_pages", render_then_swap)
    with pytest.raises(PrerenderRefused, match="was replaced by a symbolic link or a file while this command was"):
        prerender(["/dynamic"], static_dir=static_dir, out=out)
    assert list(outside.iterdir()) == []


def test_out_in_a_dot_folder_is_refused(static_dir: Path) -> None:
    with pytest.raises(PrerenderRefused, match="dot-folder"):
        prerender(["/dynamic"], static_dir=static_dir, out=static_dir / ".hidden" / "pages")
    assert not (static_dir / ".hidden").exists()


def test_a_language_folder_that_is_a_symlink_leading_outside_is_refused(static_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (static_dir / "prerendered").mkdir()
    (static_dir / "prerendered" / "en").symlink_to(outside)
    with pytest.raises(PrerenderRefused, match="is a symbolic link"):
        _prerender(static_dir)
    assert list(outside.iterdir()) == []
    assert not (static_dir / "prerendered" / "dynamic.html").exists()


def test_a_hand_written_file_is_never_overwritten(static_dir: Path) -> None:
    hand_written = static_dir / "prerendered" / "en" / "dynamic.html"
    hand_written.parent.mkdir(parents=True)
    hand_written.write_text("<p>mine</p>")
    before = _files(static_dir)
    with pytest.raises(PrerenderRefused, match=r"en/dynamic\.html exists and was not written by this command"):
        _prerender(static_dir)
    assert _files(static_dir) == before


def test_a_file_edited_since_it_was_written_is_never_overwritten(static_dir: Path) -> None:
    written = _prerender(static_dir)
    edited = written[0].path
    edited.write_bytes(edited.read_bytes().replace("동적 페이지".encode(), "내가 고친 페이지".encode()))
    before = _files(static_dir)
    with pytest.raises(PrerenderRefused, match=r"dynamic\.html was edited since this command wrote it"):
        _prerender(static_dir)
    assert _files(static_dir) == before


def test_a_symlink_where_a_file_goes_is_refused(static_dir: Path) -> None:
    (static_dir / "prerendered").mkdir()
    (static_dir / "prerendered" / "dynamic.html.gz").symlink_to(static_dir / "index.html")
    before = _files(static_dir)
    with pytest.raises(PrerenderRefused, match=r"dynamic\.html\.gz is a symbolic link"):
        _prerender(static_dir)
    assert _files(static_dir) == before


def test_a_manifest_that_is_not_this_commands_is_refused(static_dir: Path) -> None:
    (static_dir / "prerendered").mkdir()
    (static_dir / "prerendered" / MANIFEST_NAME).write_text("not json")
    with pytest.raises(PrerenderRefused, match="is not a manifest this command wrote"):
        _prerender(static_dir)
    assert not (static_dir / "prerendered" / "dynamic.html").exists()


SHA = "0" * 64
# Manifests this command cannot have written, each with what makes it so.
NOT_MANIFESTS = {
    "array-100000-deep": "[" * 100_000 + "]" * 100_000,
    "object-100000-deep": '{"dynamic.html": ' * 100_000 + f'"{SHA}"' + "}" * 100_000,
    "long-number": "1" * 5_000,  # more digits than Python reads as a number
    "too-big": json.dumps({f"page{number}.html": SHA for number in range(20_000)}),  # 1.4 MB
    "list": json.dumps(["dynamic.html"]),
    "number": json.dumps({"dynamic.html": 1}),
    "not-sha256": json.dumps({"dynamic.html": "not a sha256"}),
    "dot-dot": json.dumps({"../../outside.html": SHA}),
    "inner-dot-dot": json.dumps({"en/../../outside.html": SHA}),
    "lone-surrogate": '{"dynamic.html": "\\ud800"}',
}


@pytest.mark.parametrize("manifest", NOT_MANIFESTS.values(), ids=NOT_MANIFESTS.keys())
def test_a_manifest_this_command_cannot_have_written_is_one_sentence_and_exit_1(
    static_dir: Path, capsys: pytest.CaptureFixture[str], manifest: str
) -> None:
    (static_dir / "prerendered").mkdir()
    (static_dir / "prerendered" / MANIFEST_NAME).write_text(manifest)
    before = _files(static_dir)
    assert main(["--static-dir", str(static_dir)]) == 1
    err = _one_sentence(capsys.readouterr().err)
    assert f"prerendered/{MANIFEST_NAME} is not a manifest this command wrote" in err
    assert _files(static_dir) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_where_the_manifest_goes_is_refused_without_waiting_for_a_writer(
    static_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (static_dir / "prerendered").mkdir()
    os.mkfifo(static_dir / "prerendered" / MANIFEST_NAME)
    assert main(["--static-dir", str(static_dir)]) == 1
    assert f"{MANIFEST_NAME} is not a regular file" in _one_sentence(capsys.readouterr().err)


def test_an_out_folder_whose_links_go_round_in_a_loop_is_one_sentence_and_exit_2(
    static_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (static_dir / "loop").symlink_to(static_dir / "loop")
    assert main(["--static-dir", str(static_dir), "--out", str(static_dir / "loop" / "pages")]) == 2
    assert "its symbolic links go round in a loop" in _one_sentence(capsys.readouterr().err)


def _one_sentence(err: str) -> str:
    """What a refusal must be: one line on stderr, never a traceback."""
    assert err.startswith("python -m tools.prerender: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err and "Error(" not in err, err
    return err


def _after_the_first_page(monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]) -> None:
    """Do `action` once, as soon as the first page is written (when the command notes its sha256)."""
    real_sha256_of = prerender_module.sha256_of
    done: list[bool] = []

    def sha256_then_act(data: bytes) -> str:
        if not done:
            done.append(True)
            action()
        return real_sha256_of(data)

    monkeypatch.setattr(prerender_module, "sha256_of", sha256_then_act)


def test_a_language_folder_swapped_for_a_link_while_writing_gets_nothing_and_says_so(
    static_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    en = static_dir / "prerendered" / "en"
    en.mkdir(parents=True)

    def swap() -> None:
        en.rename(tmp_path / "en-aside")
        en.symlink_to(outside)

    _after_the_first_page(monkeypatch, swap)
    assert main(["--static-dir", str(static_dir)]) == 1
    err = _one_sentence(capsys.readouterr().err)
    assert "prerendered/en was replaced by a symbolic link or a file while this command was running" in err
    assert list(outside.iterdir()) == []


def test_an_out_folder_removed_while_writing_is_one_sentence_and_exit_1(
    static_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _after_the_first_page(monkeypatch, lambda: shutil.rmtree(static_dir / "prerendered"))
    assert main(["--static-dir", str(static_dir)]) == 1
    assert "prerendered was removed while this command was running: run it again." in _one_sentence(
        capsys.readouterr().err
    )


def test_a_file_that_appears_while_writing_is_left_as_it_is(
    static_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_written = static_dir / "prerendered" / "en" / "dynamic.html"
    hand_written.parent.mkdir(parents=True)
    _after_the_first_page(monkeypatch, lambda: hand_written.write_text("<p>mine</p>"))
    assert main(["--static-dir", str(static_dir)]) == 1
    err = _one_sentence(capsys.readouterr().err)
    assert "prerendered/en/dynamic.html was changed by someone else while this command was running" in err
    assert hand_written.read_text() == "<p>mine</p>"


def test_without_folder_descriptors_as_on_windows_pages_are_written_and_links_refused(
    static_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safefolder, "FOLDER_FDS", False)
    written = _prerender(static_dir)
    assert [file.path.read_bytes()[:15] for file in written[::2]] == [b"<!doctype html>"] * 2
    assert gzip.decompress(written[1].path.read_bytes()) == written[0].path.read_bytes()
    assert written[1].path.stat().st_mtime_ns == written[0].path.stat().st_mtime_ns
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(static_dir / "prerendered" / "en")
    (static_dir / "prerendered" / "en").symlink_to(outside)
    with pytest.raises(PrerenderRefused, match="is a symbolic link"):
        _prerender(static_dir)
    assert list(outside.iterdir()) == []


def test_several_paths_are_each_served_in_both_languages(static_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["/dynamic", "/compare", "--static-dir", str(static_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == [
        "served at /static/prerendered/dynamic.html and /static/prerendered/en/dynamic.html",
        "served at /static/prerendered/compare.html and /static/prerendered/en/compare.html",
    ]


@pytest.mark.parametrize(
    "path", ["/../x", "/dynamic?x=1", "dynamic", "/", "/Dynamic", "/a.html", "/dynamic/", "//x", "/dynamic\n"]
)
def test_a_path_that_is_not_a_plain_site_path_is_refused(static_dir: Path, path: str) -> None:
    with pytest.raises(PrerenderRefused, match="is not a path this command renders"):
        prerender([path], static_dir=static_dir, out=static_dir / "prerendered")
    assert not (static_dir / "prerendered").exists()


def test_a_path_that_is_not_a_page_is_refused_and_nothing_is_written(static_dir: Path) -> None:
    # /dynamic renders fine, but nothing is written until every page has rendered.
    with pytest.raises(PrerenderRefused, match=r"GET /no-such-page\?lang=ko answered 404 Not Found, not 200 OK"):
        prerender(["/dynamic", "/no-such-page"], static_dir=static_dir, out=static_dir / "prerendered")
    assert not (static_dir / "prerendered").exists()


def test_a_path_that_answers_json_is_refused(static_dir: Path) -> None:
    with pytest.raises(PrerenderRefused, match=r"GET /ping\?lang=ko answered application/json, not text/html"):
        prerender(["/ping"], static_dir=static_dir, out=static_dir / "prerendered")
    assert not (static_dir / "prerendered").exists()


def test_two_pages_for_the_same_file_are_refused(static_dir: Path) -> None:
    with pytest.raises(PrerenderRefused, match=r"would both be written to en/dynamic\.html"):
        prerender(["/dynamic", "/en/dynamic"], static_dir=static_dir, out=static_dir / "prerendered")


def test_main_reports_each_file_and_where_it_is_served(static_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--static-dir", str(static_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    html = static_dir / "prerendered" / "dynamic.html"
    sha256 = hashlib.sha256(html.read_bytes()).hexdigest()
    assert lines[0].startswith(f"wrote {html}  ")
    assert lines[0].endswith(f"{html.stat().st_size:,} bytes  sha256 {sha256[:12]}…  from GET /dynamic?lang=ko")
    assert lines[1].endswith("bytes  (gzip -9 of the line above)")
    assert lines[2].endswith("from GET /dynamic?lang=en")
    assert lines[-1] == "served at /static/prerendered/dynamic.html and /static/prerendered/en/dynamic.html"


def test_main_exits_2_for_an_out_outside_the_static_folder(
    static_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--static-dir", str(static_dir), "--out", str(tmp_path / "x")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "is outside the static folder" in captured.err
    assert not (tmp_path / "x").exists()


def test_main_exits_1_when_a_hand_written_file_is_in_the_way(
    static_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (static_dir / "prerendered").mkdir()
    (static_dir / "prerendered" / "dynamic.html").write_text("<p>mine</p>")
    assert main(["--static-dir", str(static_dir)]) == 1
    err = capsys.readouterr().err
    assert "dynamic.html exists and was not written by this command" in err
    assert "Nothing was written" in err
    assert (static_dir / "prerendered" / "dynamic.html").read_text() == "<p>mine</p>"


def test_main_exits_2_for_a_bad_path(static_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["/../etc/passwd", "--static-dir", str(static_dir)]) == 2
    assert "'/../etc/passwd' is not a path this command renders" in capsys.readouterr().err


def _translated(language: str, msgid: str) -> str:
    po = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    return compile_catalogue(po, language).gettext(msgid)


@pytest.mark.parametrize(("language", "file"), [("ko", "dynamic.html"), ("en", "en/dynamic.html")])
def test_the_written_page_says_at_its_top_that_it_is_a_file_made_at_build_time(
    static_dir: Path, language: str, file: str
) -> None:
    before = now().replace(microsecond=0)
    _prerender(static_dir)
    after = now()
    html = (static_dir / "prerendered" / file).read_text(encoding="utf-8")
    notice = NOTICE.search(html)
    assert notice, html
    assert html.index('id="prerendered-notice"') < html.index('<table class="facts">')  # above the values
    assert "<code>python -m tools.prerender</code>" in notice.group(1)
    assert FROZEN[language] in notice.group(1)
    built = re.search(r'<time datetime="([^"]+)">[^<]+</time>', notice.group(1))
    assert built, notice.group(1)
    assert before <= datetime.fromisoformat(built.group(1)) <= after


@pytest.mark.parametrize(("language", "file"), [("ko", "dynamic.html"), ("en", "en/dynamic.html")])
def test_the_written_page_leaves_out_what_only_a_live_page_can_say(
    static_dir: Path, client: TestClient, language: str, file: str
) -> None:
    _prerender(static_dir)
    html = (static_dir / "prerendered" / file).read_text(encoding="utf-8")
    live = client.get(f"/dynamic?lang={language}").text
    for msgid in LIVE_ONLY:
        sentence = _translated(language, msgid)
        assert sentence in live, sentence  # the live page says it: it is the sentence to look for
        assert sentence not in html, sentence


@pytest.mark.parametrize(("language", "file"), [("ko", "dynamic.html"), ("en", "en/dynamic.html")])
def test_the_written_page_names_no_host_and_links_its_other_language_file(
    static_dir: Path, language: str, file: str
) -> None:
    _prerender(static_dir)
    html = (static_dir / "prerendered" / file).read_text(encoding="utf-8")
    assert "127.0.0.1:8000" not in html
    assert re.findall(r'(?:href|src|action)="(?!/)([^"]*)"', html) == []  # every link starts at the root
    assert '<link rel="alternate" hreflang="ko" href="/static/prerendered/dynamic.html">' in html
    assert '<link rel="alternate" hreflang="en" href="/static/prerendered/en/dynamic.html">' in html


def test_the_live_page_never_says_it_is_pre_rendered_whatever_a_visitor_sends(client: TestClient) -> None:
    # Everything the command's request carries: its address, its Host, its User-Agent, its ?lang=.
    headers = {"host": "127.0.0.1:8000", "user-agent": prerender_module.USER_AGENT, "prerendering": "1"}
    for language in ("ko", "en"):
        response = client.get(f"/dynamic?lang={language}", headers=headers)
        assert response.status_code == 200, response.text
        assert "prerendered-notice" not in response.text
        assert FROZEN[language] not in response.text
        assert _translated(language, LIVE_ONLY[0]) in response.text
        assert '<link rel="alternate" hreflang="en" href="http://127.0.0.1:8000/dynamic?lang=en">' in response.text


# The race in issue 19: someone who may write in static/prerendered/ swaps en/ for a link to a folder outside
# static/, back and forth, while the command writes. Bounds, not measurements: each try writes four small files.
RACE_TRIES = 400
RACE_SECONDS = 30.0
SWAPPER_STOP_SECONDS = 10.0


def test_a_language_folder_swapped_for_a_link_over_and_over_never_leads_a_file_outside(
    static_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (static_dir / "prerendered" / "en").mkdir(parents=True)

    async def render_at_once(pages: Sequence[Page], *args: Any, **kwargs: Any) -> dict[Page, bytes]:
        return {page: b"<!doctype html><title>" + page.file.encode() + b"</title>" for page in pages}

    monkeypatch.setattr(prerender_module, "render_pages", render_at_once)
    stop = threading.Event()
    swapper = threading.Thread(target=swap_folder_for_a_link, args=(static_dir / "prerendered" / "en", outside, stop))
    swapper.start()
    exit_codes: set[int] = set()
    tracebacks: list[str] = []
    deadline = time.monotonic() + RACE_SECONDS
    try:
        for _try in range(RACE_TRIES):
            if time.monotonic() > deadline or any(outside.iterdir()):
                break
            try:
                exit_codes.add(main(["--static-dir", str(static_dir)]))
            except Exception as error:  # what would have been a traceback
                tracebacks.append(repr(error))
    finally:
        stop.set()
        swapper.join(SWAPPER_STOP_SECONDS)
    assert sorted(path.name for path in outside.iterdir()) == []
    assert tracebacks == []
    assert exit_codes <= {0, 1}  # written, or a sentence that says why not
    assert "Traceback" not in capsys.readouterr().err
