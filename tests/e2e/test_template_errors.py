"""A learner's mistake in a template or a translation, on a real uvicorn serving a copy of the project.

A broken template: the owner (at this machine, asking directly) sees which template and which line, in the
page's language, and the terminal the traceback once; another visitor (here from 127.0.0.2) the site's 500 page.
A .po file with a missing quote: the text read before stays, and the terminal says the file and the line once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import README_RELOAD_ARGS, LiveServer, copy_project, run_site, wait_for
from tools.processes import HOST

ANSWER_SECONDS = 10  # one page on loopback; generous for a shared 2-core machine
OUTPUT_SECONDS = 10  # for a line to reach the server's log file
OTHER_VISITOR = "127.0.0.2"
BROKEN_TEMPLATE = "compare.html"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture
def server(project: Path) -> Iterator[LiveServer]:
    """The site started as the README says (with --reload), from the copy."""
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as running:
        yield running


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` in a file with `new`, as a learner's editor saves it; return the line where it starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, path
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def visitor(address: str, server: LiveServer) -> httpx.Client:
    """A client whose connections come from `address`, as a different visitor's would."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=ANSWER_SECONDS)


def test_a_broken_template_names_itself_to_the_owner_and_nothing_to_a_visitor(
    project: Path, server: LiveServer
) -> None:
    line = edit(project / "templates" / BROKEN_TEMPLATE, "<h1>{{ _(", "<h1>{% if %}{{ _(")
    with visitor(HOST, server) as owner:
        korean = owner.get("/compare?lang=ko")
        english = owner.get("/compare?lang=en")
    assert korean.status_code == english.status_code == 500
    assert f"템플릿 <code>{BROKEN_TEMPLATE}</code>, {line}번째 줄" in korean.text
    assert "Jinja가 템플릿을 읽을 수 없습니다" in korean.text
    assert f"Template <code>{BROKEN_TEMPLATE}</code>, line {line}" in english.text
    assert "Jinja cannot read the template" in english.text

    with visitor(OTHER_VISITOR, server) as other:
        stranger = other.get("/compare?lang=en")
    assert stranger.status_code == 500
    assert stranger.content == (project / "static" / "errors" / "500.html").read_bytes()
    assert BROKEN_TEMPLATE not in stranger.text and "Traceback" not in stranger.text

    # The traceback in the terminal, with where in its first line; the same mistake reloaded is not written again
    # within 10 s (logs.py), so three requests write it once.
    first_line = f"Exception in ASGI application: {BROKEN_TEMPLATE}, line {line}: "
    wait_for(lambda: first_line in server.output(), seconds=OUTPUT_SECONDS, what=f"the traceback:\n{server.output()}")
    assert server.output().count("Exception in ASGI application") == 1, server.output()
    assert "jinja2.exceptions.TemplateSyntaxError" in server.output()

    edit(project / "templates" / BROKEN_TEMPLATE, "<h1>{% if %}{{ _(", "<h1>{{ _(")  # fixed: no restart needed
    with visitor(HOST, server) as owner:
        assert owner.get("/compare?lang=en").status_code == 200


def test_a_po_file_with_a_missing_quote_keeps_the_old_text_and_says_where_once(
    project: Path, server: LiveServer
) -> None:
    po = project / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
    with visitor(HOST, server) as owner:
        assert "<h1>동적 페이지</h1>" in owner.get("/dynamic?lang=ko").text
        line = edit(po, 'msgid "Dynamic page"\nmsgstr "동적 페이지"\n', 'msgid "Dynamic page"\nmsgstr "고친 제목\n') + 1
        for _ in range(3):
            page = owner.get("/dynamic?lang=ko").text
            assert "<h1>동적 페이지</h1>" in page, page  # not "고친 제", which Babel's guess made of it
    said = wait_for(
        lambda: [text for text in server.output().splitlines() if f"{po}:{line}:" in text],
        seconds=OUTPUT_SECONDS,
        what=f"the line about {po}:\n{server.output()}",
    )
    assert len(said) == 1, server.output()
