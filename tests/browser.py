"""Debian's Chromium driven by Playwright, for tests that look at pages as a person does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, Page, Request, sync_playwright

# As root in a sandbox, with no network: no sandboxing, no GPU, and none of
# Chromium's own background connections (they would fail and be reported).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


CHROMIUM_MISSING = "Chromium is not installed (on Debian: apt-get install chromium fonts-noto-cjk)"


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(CHROMIUM_MISSING)
    return path


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    # Playwright is given the browser's path, so it never downloads one of its own.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageProblems:
    """Everything a page reported that a person would count as broken."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", lambda response: response.status >= 400 and self.failed_requests.append(
            f"{response.url} answered {response.status}"
        ))  # fmt: skip
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def _request_failed(self, request: Request) -> None:
        # ERR_ABORTED is the browser cancelling a request because the page moved
        # on (a click during the favicon's load), not a request that failed.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.url} {request.failure}")

    def assert_none(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.failed_requests == [], self.failed_requests
        assert self.dialogs == [], self.dialogs
