"""The practice page, as a learner uses it: real `uvicorn --reload` on a copy of the project, real file
edits, real Chromium. Each step turns green after the learner's own edit; each common mistake gets its
sentence on the page."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pageproblems import PageProblems
from tests.support import PROJECT_ROOT, README_RELOAD_ARGS, copy_project, run_site, wait_for
from tools.processes import spawn, stop_process, uvicorn_command, wait_until_listening

STOP_SECONDS = 5  # sse-starlette notices a stopping server within 0.5 s
SECONDS = 20_000  # ms: a restart here takes about a second; a shared CI machine may take much longer
README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project (with the lesson's own app), free to edit."""
    copied = copy_project(tmp_path / "project")
    shutil.copytree(PROJECT_ROOT / "lesson", copied / "lesson")
    return copied


def open_practice(chromium: Browser, problems: PageProblems, url: str, locale: str) -> Page:
    context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems.watch(page)
    page.goto(url)
    return page


def step(page: Page, name: str) -> object:
    return page.locator(f"#step-{name}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_every_step_turns_green_and_every_mistake_gets_its_sentence(
    project: Path, chromium: Browser, problems: PageProblems
) -> None:
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as server:
        page = open_practice(chromium, problems, f"{server.url}/practice?lang=ko", "ko-KR")
        first_pid = httpx.get(f"{server.url}/api/now").json()["pid"]

        # 1. The server: its command, pid and --reload, said as a fact.
        server_step = page.locator("#step-server")
        expect(server_step).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(server_step).to_contain_text(f"pid {first_pid}")
        expect(server_step.locator(".reload")).to_contain_text("--reload가 켜져 있습니다")
        expect(page.locator("#server-command")).to_contain_text("webapp.main:app --app-dir")

        # 2. The learner opens /ping and an address that is not there, in the browser.
        other = page.context.new_page()
        other.goto(f"{server.url}/ping")
        assert "pong" in other.content()
        other.goto(f"{server.url}/nothing-here")
        assert "Not Found" in other.content()
        ping_step = page.locator("#step-ping")
        expect(ping_step).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(page.locator("#terminal-lines")).to_contain_text('"GET /ping HTTP/1.1" 200 OK')
        expect(page.locator("#terminal-lines")).to_contain_text('"GET /nothing-here HTTP/1.1" 404 Not Found')
        problems.failed_requests.clear()  # the learner's own 404, in the other tab

        # 3. The code edit: a new process, the new value, and how long it took.
        edit(project / "webapp" / "main.py", 'return {"message": "pong"}', 'return {"message": "Hello"}')
        code_step = page.locator("#step-code")
        expect(code_step).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        second_pid = httpx.get(f"{server.url}/api/now").json()["pid"]
        assert second_pid != first_pid
        expect(code_step).to_contain_text(f"pid {first_pid} → {second_pid}")
        expect(code_step).to_contain_text('{"message":"pong"} → {"message":"Hello"}')
        expect(code_step).to_contain_text(re.compile(r"\d+ms"))
        expect(code_step.locator(".why")).to_contain_text("새 프로세스")

        # 4-6. Template, translation, static file: noticed, and the same process.
        edit(project / "templates" / "dynamic.html", "{% block content %}", "{% block content %}<p>고친 줄</p>")
        expect(step(page, "template")).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(step(page, "template")).to_contain_text(f"(pid {second_pid})")
        catalogue = project / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
        edit(catalogue, 'msgstr "동적 페이지"', 'msgstr "수업 중에 고친 제목"')
        expect(step(page, "translation")).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(step(page, "translation")).to_contain_text(f"(pid {second_pid})")
        edit(project / "static" / "index.html", "</body>", "<p>고친 줄</p></body>")
        static_step = step(page, "static")
        expect(static_step).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(static_step).to_contain_text(f"(pid {second_pid})")
        etag = httpx.head(f"{server.url}/static/index.html").headers["etag"]
        expect(static_step).to_contain_text(etag)

        # Mistakes. A broken template: named, with its line, and the last good pages keep working elsewhere.
        notices = page.locator("#practice-notices")
        edit(project / "templates" / "dynamic.html", "<p>고친 줄</p>", "<p>고친 줄 {% if %}</p>")
        expect(notices).to_contain_text("templates/dynamic.html", timeout=SECONDS)
        expect(notices).to_contain_text(re.compile(r"\d+번째 줄|줄 \d+|\d+행"))
        expect(step(page, "template")).to_have_class(re.compile(r"\bproblem\b"))  # not green while broken
        edit(project / "templates" / "dynamic.html", "{% if %}", "")
        expect(notices).not_to_contain_text("templates/dynamic.html", timeout=SECONDS)
        expect(step(page, "template")).to_have_class(re.compile(r"\bdone\b"))

        # A .po line with a missing quote: named, with its line; the last good text stays.
        edit(catalogue, 'msgstr "수업 중에 고친 제목"', 'msgstr "따옴표가 빠진 줄')
        expect(notices).to_contain_text("messages.po", timeout=SECONDS)
        assert "수업 중에 고친 제목" in httpx.get(f"{server.url}/dynamic?lang=ko").text
        edit(catalogue, 'msgstr "따옴표가 빠진 줄', 'msgstr "동적 페이지"')
        expect(notices).not_to_contain_text("messages.po", timeout=SECONDS)

        # The wrong file: lesson/main.py is not what this server runs.
        edit(project / "lesson" / "main.py", '"pong"', '"Hi"')
        expect(notices).to_contain_text("lesson/main.py", timeout=SECONDS)
        expect(notices).to_contain_text("webapp/main.py")

        # A syntax error: the server stops answering; the page says since when, after which save, and where
        # to look; fixing the file brings it back, and the page notices.
        edit(project / "webapp" / "main.py", "def test():", "def test()")
        expect(notices).to_contain_text("webapp/main.py", timeout=SECONDS)
        expect(notices).to_contain_text("터미널", timeout=SECONDS)
        expect(step(page, "server")).to_have_class(re.compile(r"\bproblem\b"))
        edit(project / "webapp" / "main.py", "def test()", "def test():")
        expect(notices).to_contain_text("다시 응답합니다", timeout=SECONDS)
        expect(step(page, "server")).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
        expect(code_step).to_have_class(re.compile(r"\bdone\b"))  # the fixed typo is not a new edit to ask for

        # What the learner did is kept in this browser: a reload of the page keeps every green step.
        page.reload()
        for name in ("server", "ping", "code", "template", "translation", "static"):
            expect(step(page, name)).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)

        violations = Axe().run(page).response["violations"]
        serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == []
        problems.assert_none()


def test_a_server_without_reload_is_named_with_the_readme_command(
    project: Path, chromium: Browser, problems: PageProblems
) -> None:
    with run_site(app_dir=project, cwd=project) as server:
        page = open_practice(chromium, problems, f"{server.url}/practice?lang=en", "en-US")
        notices = page.locator("#practice-notices")
        expect(notices).to_contain_text("--reload is off", timeout=SECONDS)
        # README's command, with the port this server runs on (copied as shown, it starts the server here).
        command = page.locator("#practice-notices code").first.inner_text()
        readme_command, port = command.split(" --port ")
        assert f"| `{readme_command}` |" in README, f"{readme_command!r} is not the README's command"
        assert port == str(server.port)

        pid = httpx.get(f"{server.url}/api/now").json()["pid"]
        edit(project / "webapp" / "main.py", '"pong"', '"Hello"')
        expect(notices).to_contain_text("the same process still answers", timeout=SECONDS)
        expect(notices).to_contain_text(f"(pid {pid})")
        assert httpx.get(f"{server.url}/ping").json() == {"message": "pong"}
        assert "started without --reload" in server.output()

        # Keyboard: the one control of the page is reached with Tab and works with Enter.
        page.keyboard.press("Tab")
        for _ in range(40):
            if page.evaluate("document.activeElement.id") == "practice-reset":
                break
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "practice-reset"
        problems.assert_none()


def test_the_lesson_app_on_the_same_port_is_recognised(
    project: Path, chromium: Browser, problems: PageProblems
) -> None:
    """The learner stops the site and starts the lesson's own app on its port: the page says which app answers
    now, and that webapp/main.py is not the file it runs."""
    with run_site(app_dir=project, cwd=project) as server:
        page = open_practice(chromium, problems, f"{server.url}/practice?lang=en", "en-US")
        expect(step(page, "server")).to_have_class(re.compile(r"\bdone\b"), timeout=SECONDS)
    lesson = project / "lesson"
    with open(lesson / "uvicorn.log", "wb") as log:
        process = spawn(uvicorn_command(server.port, app="main:app", app_dir=lesson), cwd=lesson, stdout=log)
    try:
        wait_until_listening(server.port, process, "the lesson's app")
        notices = page.locator("#practice-notices")
        expect(notices).to_contain_text("the lesson's own app (lesson/main.py)", timeout=SECONDS)
        expect(notices).to_contain_text('{"message":"pong"}')
    finally:
        stop_process(process)
    # The server went away and the lesson's app has no practice page: the browser logs those failed loads
    # itself. Nothing else may have gone wrong on the page (no script error).
    assert [error for error in problems.console_errors if not error.startswith("Failed to load resource")] == []


def test_an_open_practice_page_never_holds_up_a_reload_or_a_stop(project: Path) -> None:
    """uvicorn waits for open connections before it stops a process: the practice stream ends itself when
    a code save is about to restart the server, and when the server is stopped (Ctrl+C)."""
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as server:
        with httpx.stream("GET", f"{server.url}/practice/events", timeout=10) as events:
            lines = events.iter_lines()
            assert next(lines) == "event: hello"
            edit(project / "webapp" / "main.py", '"pong"', '"Hello"')
            rest = list(lines)  # ends by itself: the read timeout (10 s) would fail the test otherwise
        assert "event: restarting" in rest
        wait_for(
            lambda: httpx.get(f"{server.url}/ping", timeout=2).json() == {"message": "Hello"},
            seconds=15,
            what=f"the reload to finish; output:\n{server.output()}",
        )
        assert "Waiting for connections to close" not in server.output()

        with httpx.stream("GET", f"{server.url}/practice/events", timeout=10) as events:
            assert next(events.iter_lines()) == "event: hello"
            server.process.send_signal(signal.SIGINT)  # Ctrl+C, with the page still open
            server.process.wait(timeout=STOP_SECONDS)
        assert "Finished server process" in server.output()
