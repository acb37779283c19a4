"""Debian's Chromium driven by Playwright, for tests that look at pages as a person does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from webapp.i18n import N_

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


CHROMIUM_MISSING = N_("Chromium is not installed (on Debian: apt-get install chromium fonts-noto-cjk)")


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
