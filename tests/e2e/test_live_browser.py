"""/live, the projector page, in real Chromium through the real stack (nginx and two workers), as a class uses it:
another student's request shows within a second under a pseudonym, coloured by who answered it; the QR code
reads as the address the page prints; and the page is clean (axe, console, no sideways scroll) on a projector
and a phone, in Korean and English. One stack for the module: each start costs seconds."""

from __future__ import annotations

import io
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.pageproblems import PageProblems
from tests.support import RunningStack, run_stack
from webapp.paths import STATIC_DIR

STUDENT = "127.0.0.2"  # another device in the room: a client socket bound to this loopback address
# A second loopback address for nginx to listen on: the page prints it (and its QR code) as the address students
# open, as it would print this machine's LAN address in a class, without the test touching a real network.
LISTEN = "127.0.0.3"
ARRIVAL_SECONDS = 1.0  # the bound: a request shows on /live within a second of its answer
WAIT_SECONDS = 10.0  # how long the test waits for a row at most, so that a slow arrival is measured, not timed out
VIEWPORTS: dict[str, ViewportSize] = {
    "projector": {"width": 1024, "height": 768},
    "phone": {"width": 360, "height": 740},
}
# Addresses the page itself never asks for, each asked once in the module: their rows can only be the student's.
STATIC_PATH = "/static/layers.svg"
DYNAMIC_PATH = "/ping"
MORE_ROWS_PATH = "/dynamic"  # asked by the tests of a clean page, for rows in the table


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_stack(tmp_path_factory.mktemp("live"), "--listen", LISTEN) as running:
        yield running


def student_gets(stack: RunningStack, target: str) -> float:
    """A GET from another device (127.0.0.2) through the stack's HTTP port; return when its answer ended
    (ms since 1970, the clock the browser's Date.now() reads too)."""
    port = urlsplit(stack.url).port
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(STUDENT, 0)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.time() * 1000


def open_live(chromium: Browser, stack: RunningStack, language: str, viewport: str) -> tuple[Page, PageProblems]:
    context = chromium.new_context(locale=language, viewport=VIEWPORTS[viewport])
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{stack.url}/live?lang={language}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    return page, problems


# When a row for `path` asked by a student first appeared: watched in the page, so the time is the browser's own.
WATCH_ROWS = """(path) => {
    window.arrivals = window.arrivals || {};
    const look = () => {
        for (const row of document.querySelectorAll("#live-rows tr")) {
            const cells = row.querySelectorAll("td");
            if (cells.length > 3 && cells[3].textContent === path && !row.classList.contains("mine")) {
                window.arrivals[path] = window.arrivals[path] || Date.now();
            }
        }
    };
    new MutationObserver(look).observe(document.getElementById("live-rows"), {childList: true});
}"""


def arrival(page: Page, path: str) -> float:
    handle = page.wait_for_function("(path) => window.arrivals[path]", arg=path, timeout=WAIT_SECONDS * 1000)
    return float(handle.json_value())


def background_of(variable: str) -> str:
    """The colour a CSS variable of style.css names, as getComputedStyle says it (rgb(r, g, b))."""
    found = re.search(rf"{variable}:\s*#([0-9a-f]{{6}});", (STATIC_DIR / "style.css").read_text())
    assert found, variable
    red, green, blue = (int(found.group(1)[index : index + 2], 16) for index in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"


def row_facts(page: Page, path: str) -> dict[str, str]:
    row = page.locator("#live-rows tr", has=page.locator("td.live-path", has_text=path)).first
    return {
        "class": row.get_attribute("class") or "",
        "who": row.locator("td.live-who").inner_text(),
        "by": row.locator("td.live-by").inner_text(),
        "background": row.locator("td.live-path").evaluate("cell => getComputedStyle(cell).backgroundColor"),
    }


def test_another_students_requests_show_within_a_second_under_a_pseudonym_coloured_by_who_answered(
    chromium: Browser, stack: RunningStack
) -> None:
    page, problems = open_live(chromium, stack, "ko", "projector")
    for path in (STATIC_PATH, DYNAMIC_PATH):
        page.evaluate(WATCH_ROWS, path)
    # A query string may carry a name: the page never shows it, nor the student's IP address.
    answered = {
        STATIC_PATH: student_gets(stack, f"{STATIC_PATH}?name=kim"),
        DYNAMIC_PATH: student_gets(stack, DYNAMIC_PATH),
    }
    delays = {path: arrival(page, path) - answered[path] for path in answered}
    assert all(delay <= ARRIVAL_SECONDS * 1000 for delay in delays.values()), delays

    static, dynamic = row_facts(page, STATIC_PATH), row_facts(page, DYNAMIC_PATH)
    assert "live-static" in static["class"] and static["by"] == "nginx(디스크)", static
    assert static["background"] == background_of("--static-bg"), static
    assert "live-dynamic" in dynamic["class"] and re.fullmatch(r"워커 \d · pid \d+", dynamic["by"]), dynamic
    assert dynamic["background"] == background_of("--dynamic-bg"), dynamic
    assert re.fullmatch(r"학생 \d+", static["who"]) and dynamic["who"] == static["who"], (static, dynamic)

    html = page.content()
    assert STUDENT not in html and "name=kim" not in html
    page.context.close()
    problems.assert_none()


def test_the_qr_code_reads_as_the_address_the_page_prints(chromium: Browser, stack: RunningStack) -> None:
    page, _ = open_live(chromium, stack, "ko", "projector")
    printed = page.locator(".live-addresses a").first.inner_text()
    port = urlsplit(stack.url).port
    assert printed == f"http://{LISTEN}:{port}/"
    picture = Image.open(io.BytesIO(page.locator("#live-qr svg").screenshot()))
    page.context.close()
    assert [code.text for code in zxingcpp.read_barcodes(picture)] == [printed]


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_page_is_clean_and_fits_on_a_projector_and_a_phone(
    chromium: Browser, stack: RunningStack, language: str, viewport: str
) -> None:
    page, problems = open_live(chromium, stack, language, viewport)
    page.evaluate(WATCH_ROWS, MORE_ROWS_PATH)
    student_gets(stack, MORE_ROWS_PATH)  # rows in the table: the phone's cards and the projector's columns both shown
    arrival(page, MORE_ROWS_PATH)
    violations = Axe().run(page).response["violations"]
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    page.context.close()
    serious = [
        (violation["id"], violation["help"], [node["target"] for node in violation["nodes"]])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px wide in a {widths[1]} px window"
    problems.assert_none()
