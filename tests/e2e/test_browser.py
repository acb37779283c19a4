"""The lesson's flows in a real browser (Debian's Chromium), as a person does them."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pageproblems import PageProblems
from tests.support import README_RELOAD_ARGS, LiveServer, copy_project, run_site, run_stack, wait_for
from webapp.paths import PROJECT_ROOT

PAGES = ["/static/index.html", "/static/en/index.html", "/dynamic", "/compare", "/guestbook", "/log", "/bench",
         "/source/static/index.html", "/source/templates/dynamic.html", "/spectrum", "/dynamic/shared",
         "/static/clock.html", "/practice", "/live"]  # fmt: skip
ROUNDS = 5
PHONE = {"width": 375, "height": 740}
PROJECTOR = {"width": 1920, "height": 1080}


def test_home_page_links_lead_to_the_lesson_pages(page: Page, live_server: LiveServer, problems: PageProblems) -> None:
    page.goto(f"{live_server.url}/static/index.html")
    expect(page.locator("h1")).to_contain_text("정적 콘텐츠와 동적 콘텐츠")

    page.get_by_role("navigation").get_by_role("link", name="동적 페이지").click()
    expect(page).to_have_url(re.compile(r"/dynamic\?lang=ko$"))
    expect(page.locator("h1")).to_have_text("동적 페이지")

    page.go_back()
    page.locator("ol.tour").get_by_role("link", name="/ping").click()
    assert json.loads(page.locator("body").inner_text()) == {"message": "pong"}

    page.go_back()
    page.locator("ol.tour").get_by_role("link", name="/compare").click()
    expect(page.locator("h1")).to_contain_text("정적 vs 동적")
    expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
    problems.assert_none()


def _column(page: Page, side: str, index: int) -> list[str]:
    return page.locator(f"#{side}-side tbody tr td:nth-child({index})").all_inner_texts()


def test_reload_both_shows_static_bytes_stay_and_dynamic_bytes_change(
    page: Page, live_server: LiveServer, problems: PageProblems
) -> None:
    page.goto(f"{live_server.url}/compare")
    for _ in range(2):  # the automatic first run, then the button
        expect(page.locator("#static-side tbody tr")).to_have_count(ROUNDS)
        expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
        expect(page.locator("#dynamic-side .summary")).not_to_have_text("요청하는 중…")
        assert _column(page, "static", 2) == ["200"] + ["304"] * (ROUNDS - 1)
        static_hashes = {text.split()[0] for text in _column(page, "static", 3)}
        assert len(static_hashes) == 1
        assert _column(page, "dynamic", 2) == ["200"] * ROUNDS
        assert len(set(_column(page, "dynamic", 3))) == ROUNDS
        expect(page.locator("#static-side .summary")).to_contain_text("304 Not Modified 4번")
        page.get_by_role("button", name="둘 다 다시 불러오기").click()
    expect(page.locator("#database-side .summary")).to_contain_text("연결됨")
    problems.assert_none()


# Lengths around SHA-256's 64-byte blocks and its 56-byte padding edge, and a large one.
HASHED_LENGTHS = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65_537]


def test_the_hand_written_sha256_matches_the_browsers_own(page: Page, live_server: LiveServer) -> None:
    """compare.js hashes by hand where crypto.subtle is missing (plain http on a LAN address)."""
    page.goto(f"{live_server.url}/compare")
    results = page.evaluate(
        """async (lengths) => {
            const results = [];
            for (const length of lengths) {
                const bytes = Uint8Array.from({length}, (_, i) => (i * 31 + 7) % 256);
                const digest = await crypto.subtle.digest("SHA-256", bytes);
                const own = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
                results.push([own, sha256Fallback(bytes)]);
            }
            return results;
        }""",
        HASHED_LENGTHS,
    )
    for length, (own, by_hand) in zip(HASHED_LENGTHS, results, strict=True):
        expected = hashlib.sha256(bytes((i * 31 + 7) % 256 for i in range(length))).hexdigest()
        assert own == expected, length
        assert by_hand == expected, length


def test_compare_without_crypto_subtle_shows_the_files_real_hash(chromium: Browser, live_server: LiveServer) -> None:
    context = chromium.new_context(locale="ko-KR")
    # As in a page opened by a LAN address over plain http: no crypto.subtle at all.
    context.add_init_script("Object.defineProperty(window.crypto, 'subtle', {value: undefined});")
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{live_server.url}/compare")
    assert page.evaluate("window.crypto.subtle") is None
    expect(page.locator("#static-side tbody tr")).to_have_count(ROUNDS)
    on_disk = hashlib.sha256((PROJECT_ROOT / "static" / "index.html").read_bytes()).hexdigest()
    first_hash = _column(page, "static", 3)[0].split()[0]
    context.close()
    assert on_disk.startswith(first_hash), (first_hash, on_disk)
    problems.assert_none()


def test_reloading_the_dynamic_page_changes_time_and_counter(
    page: Page, live_server: LiveServer, problems: PageProblems
) -> None:
    page.goto(f"{live_server.url}/dynamic")
    counter = int(page.locator("#counter").get_attribute("data-value"))
    time = page.locator("#server-time").get_attribute("datetime")
    page.reload()
    assert int(page.locator("#counter").get_attribute("data-value")) == counter + 1
    assert page.locator("#server-time").get_attribute("datetime") != time
    problems.assert_none()


def test_editing_ping_shows_in_the_browser_after_a_reload(page: Page, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project) as server:
        page.goto(f"{server.url}/ping")
        expect(page.locator("body")).to_have_text('{"message":"pong"}')
        main = project / "webapp" / "main.py"
        main.write_text(main.read_text().replace('return {"message": "pong"}', 'return {"message": "Hello"}'))

        def shows_hello() -> bool:
            try:
                page.reload()
            except Exception:  # the server is restarting: the browser shows an error page for a moment
                return False
            return page.locator("body").inner_text() == '{"message":"Hello"}'

        wait_for(shows_hello, seconds=15, what="the browser to show Hello", interval=0.5)


def test_posting_to_the_guestbook_shows_the_entry_as_text(
    page: Page, live_server: LiveServer, problems: PageProblems
) -> None:
    page.goto(f"{live_server.url}/guestbook")
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    page.get_by_label("이름").fill("브라우저 학생")
    page.get_by_label("메시지").fill(f"안녕하세요!\n{attack}")
    page.get_by_role("button", name="남기기").click()
    expect(page).to_have_url(re.compile(r"/guestbook$"))  # Post/Redirect/Get
    newest = page.locator("li.entry").first
    expect(newest.locator(".entry-name")).to_have_text("브라우저 학생")
    expect(newest.locator(".entry-message")).to_have_text(f"안녕하세요!\n{attack}")
    assert page.locator("li.entry img").count() == 0
    problems.assert_none()  # no alert dialog, no console error


def test_a_bad_guestbook_entry_comes_back_with_a_message(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/guestbook")
    page.get_by_label("메시지").fill("이름 없이 보냅니다")
    page.get_by_role("button", name="남기기").click()
    expect(page.get_by_role("alert")).to_contain_text("이름을 입력해 주세요.")
    expect(page.get_by_label("메시지")).to_have_value("이름 없이 보냅니다")


@pytest.mark.parametrize("path", [*PAGES, "/docs"])
def test_no_console_errors_and_no_failed_requests(
    page: Page, live_server: LiveServer, problems: PageProblems, path: str
) -> None:
    page.goto(f"{live_server.url}{path}")
    if path == "/practice":  # its stream stays open, so the network is never idle: wait for its first event
        expect(page.locator("#step-server")).to_have_class(re.compile(r"\bdone\b"))
    elif path == "/live":  # the same: an open stream
        expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    else:
        page.wait_for_load_state("networkidle")
    problems.assert_none()


def test_docs_page_works_offline_under_the_content_security_policy(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/docs")
    expect(page.get_by_text("/api/guestbook").first).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(
    chromium: Browser, live_server: LiveServer, path: str, language: str
) -> None:
    context = chromium.new_context(locale=language)
    page = context.new_page()
    page.goto(f"{live_server.url}{path}{'&' if '?' in path else '?'}lang={language}")
    if path == "/compare":
        expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
    violations = Axe().run(page).response["violations"]
    context.close()
    serious = [
        (violation["id"], violation["help"], [node["target"] for node in violation["nodes"]])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


# An element as the keyboard test knows it: its whole HTML, except a scrolling region (a table the page is still
# filling with fetches, on /compare and /spectrum), which is known by its own tag and attributes.
IDENTITY = "e => e.matches(\"[tabindex='0']\") ? e.outerHTML.slice(0, e.outerHTML.indexOf('>') + 1) : e.outerHTML"


@pytest.mark.parametrize("path", PAGES)
def test_every_control_is_reachable_by_keyboard(page: Page, live_server: LiveServer, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    focusable = page.locator("a[href], button, input, select, textarea, summary, [tabindex='0'] >> visible=true")
    expected = {focusable.nth(i).evaluate(f"e => ({IDENTITY})(e)") for i in range(focusable.count())}
    reached: set[str] = set()
    # Pages that fill themselves in (/spectrum's fetches) may add links after `expected` was read: they take
    # Tab presses too, so the loop goes on until everything expected is reached, within a bound.
    for _ in range(2 * len(expected) + 10):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(f"({IDENTITY})(document.activeElement)"))
        if expected <= reached:
            break
    assert expected <= reached, expected - reached


def test_compare_runs_from_the_keyboard(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/compare")
    expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
    page.locator("#rounds").focus()
    page.keyboard.press("ArrowDown")  # 5 -> 10
    page.get_by_role("button", name="둘 다 다시 불러오기").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#dynamic-side tbody tr")).to_have_count(10)


@pytest.mark.parametrize("viewport", [PHONE, PROJECTOR], ids=["phone-375", "projector-1920"])
@pytest.mark.parametrize("path", PAGES)
def test_pages_fit_the_screen_without_sideways_scrolling(
    chromium: Browser, live_server: LiveServer, path: str, viewport: dict[str, int]
) -> None:
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")
    if path == "/compare":
        expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    font_size = float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px"))
    context.close()
    assert scroll_width <= viewport["width"]
    assert font_size >= 16


def test_browser_language_and_the_switch(chromium: Browser, live_server: LiveServer) -> None:
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/dynamic")
    expect(page.locator("h1")).to_have_text("Dynamic page")
    expect(page.locator("#language-choice")).to_contain_text("Accept-Language")
    page.get_by_role("link", name="한국어").click()
    expect(page.locator("h1")).to_have_text("동적 페이지")
    page.goto(f"{live_server.url}/compare")  # no ?lang= now: the cookie remembers
    expect(page.locator("h1")).to_contain_text("정적 vs 동적")
    expect(page.locator("#language-choice")).to_contain_text("쿠키")
    context.close()


def _static_changed_columns(page: Page) -> set[int]:
    """The numbers (from 1) of the static side's columns where a cell is marked as changed."""
    return set(
        page.evaluate(
            """() => [...document.querySelectorAll('#static-side td.changed')]
                .map((cell) => cell.cellIndex + 1)"""
        )
    )


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_compare_shows_every_column_without_scrolling_sideways(
    chromium: Browser, live_server: LiveServer, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/compare")
    expect(page.locator("#dynamic-side tbody tr")).to_have_count(ROUNDS)
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('.compare .table-scroll')]
            .map((box) => box.scrollWidth - box.clientWidth)"""
    )
    served_by = page.locator("#static-side th", has_text="X-Served-By").bounding_box()
    context.close()
    assert hidden == [0, 0], hidden
    assert served_by is not None and served_by["x"] + served_by["width"] <= width


def test_a_304_row_says_which_headers_it_does_not_send_instead_of_marking_a_change(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/compare?lang=en")
    expect(page.locator("#static-side tbody tr")).to_have_count(ROUNDS)
    assert _column(page, "static", 2) == ["200"] + ["304"] * (ROUNDS - 1)
    for column in (4, 6):  # Content-Length and Last-Modified
        assert _column(page, "static", column)[1:] == ["not sent with 304"] * (ROUNDS - 1)
    assert _static_changed_columns(page) == {2}  # only the status, 200 then 304: a real change


def test_compare_through_nginx_explains_the_weak_etag(chromium: Browser, tmp_path: Path) -> None:
    with run_stack(tmp_path) as stack:
        context = chromium.new_context(locale="en-US")
        page = context.new_page()
        page.goto(f"{stack.url}/compare?lang=en")
        expect(page.locator("#static-side tbody tr")).to_have_count(ROUNDS)
        expect(page.locator("#static-side .summary")).not_to_have_text("Fetching…")
        etags = _column(page, "static", 5)
        changed = _static_changed_columns(page)
        summary = page.locator("#static-side .summary").inner_text()
        context.close()
    assert etags[0].startswith('W/"'), etags  # nginx compressed the first answer on the fly
    assert changed <= {2}, changed  # the status may change; the ETag names the same file, weak or strong
    assert "W/ marks a weak ETag" in summary


@pytest.mark.parametrize("diagram", ["/static/layers.svg", "/static/en/layers.svg"])
def test_every_label_of_the_diagram_fits_its_box(page: Page, live_server: LiveServer, diagram: str) -> None:
    page.goto(f"{live_server.url}{diagram}")
    overflowing = page.evaluate(
        """() => {
            const boxes = [...document.querySelectorAll('rect')].map((rect) => rect.getBBox());
            const problems = [];
            for (const text of document.querySelectorAll('text')) {
                const label = text.getBBox();
                const middle = {x: label.x + label.width / 2, y: label.y + label.height / 2};
                const box = boxes.find((b) => b.x <= middle.x && middle.x <= b.x + b.width
                                           && b.y <= middle.y && middle.y <= b.y + b.height);
                if (box && (label.x < box.x + 4 || label.x + label.width > box.x + box.width - 4)) {
                    problems.push(text.textContent);
                }
            }
            return problems;
        }"""
    )
    assert overflowing == []
