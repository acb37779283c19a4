"""Render screenshots of the main pages, in Korean and English, on a desktop and a phone.

    .venv/bin/python -m tools.screenshots [--output generated/screenshots]

Starts the site on a free loopback port with a fresh database holding two
guestbook entries, opens each page in Debian's Chromium, and writes PNGs.
Where nginx is installed it also starts the stack, and draws the micro-cache
step of /spectrum as nginx answers it (spectrum-ko-desktop.png, ...-en-...).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Browser, ViewportSize, expect

from tools.browser import CHROMIUM_MISSING, launch_chromium
from tools.processes import HOST, find_program, free_port, refused_on_windows, run_uvicorn
from tools.stack import Stack
from webapp.paths import GENERATED_DIR, PROJECT_ROOT
from webapp.terminal import text as _

DEFAULT_OUTPUT = GENERATED_DIR / "screenshots"
DEVICES: dict[str, ViewportSize] = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 375, "height": 740}}
PAGES = {
    "home": {"ko": "/static/index.html", "en": "/static/en/index.html"},
    "dynamic": {"ko": "/dynamic?lang=ko&name=태현", "en": "/dynamic?lang=en&name=Alex"},
    "compare": {"ko": "/compare?lang=ko", "en": "/compare?lang=en"},
    "guestbook": {"ko": "/guestbook?lang=ko", "en": "/guestbook?lang=en"},
}
SPECTRUM_STEP = "#micro-cache"
SPECTRUM_FETCHES = 12
ENTRIES = [
    {"name": "태현", "message": "정적 파일은 몇 번을 받아도 같고, 동적 페이지는 매번 달라요!"},
    {"name": "Alex", "message": "Static bytes never change; the dynamic page is made anew every time."},
]


def capture(browser: Browser, base_url: str, output: Path) -> list[Path]:
    written = []
    for device, viewport in DEVICES.items():
        for language in ("ko", "en"):
            context = browser.new_context(viewport=viewport, locale=language, device_scale_factor=1)
            page = context.new_page()
            for name, paths in PAGES.items():
                page.goto(base_url + paths[language])
                if name == "compare":
                    expect(page.locator("#dynamic-side tbody tr")).to_have_count(5)
                path = output / f"{name}-{language}-{device}.png"
                page.screenshot(path=path)
                written.append(path)
            context.close()
    return written


def capture_spectrum(browser: Browser, base_url: str, output: Path) -> list[Path]:
    """Draw the micro-cache step of /spectrum, once its twelve fetches came back, in each language."""
    written = []
    for language in ("ko", "en"):
        context = browser.new_context(viewport=DEVICES["desktop"], locale=language, device_scale_factor=1)
        page = context.new_page()
        page.goto(f"{base_url}/spectrum?lang={language}")
        step = page.locator(SPECTRUM_STEP)
        expect(step.locator("tbody tr")).to_have_count(SPECTRUM_FETCHES, timeout=30_000)
        expect(step.locator(".summary")).to_contain_text("X-Cache-Status")
        path = output / f"spectrum-{language}-desktop.png"
        step.screenshot(path=path)
        written.append(path)
        context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.screenshots",
        description=_("Render screenshots of the main pages, in Korean and English, on a desktop and a phone."),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=_("folder for the PNGs (%(default)s)") % {"default": DEFAULT_OUTPUT},
    )
    args = parser.parse_args(argv)
    if refused_on_windows("python -m tools.screenshots"):
        return 1
    if shutil.which("chromium") is None:
        print(_("Cannot take screenshots: %(reason)s") % {"reason": _(CHROMIUM_MISSING)}, file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as workdir:
        env = {"DATABASE_URL": f"sqlite:///{workdir}/site.db"}
        with run_uvicorn(cwd=Path(workdir), env=env) as server, launch_chromium() as browser:
            for entry in ENTRIES:
                httpx.post(f"{server.url}/api/guestbook", json=entry).raise_for_status()
            written = capture(browser, server.url, args.output)
            if find_program("nginx"):
                stack = Stack(
                    http_port=free_port(), https_port=free_port(), run_dir=Path(workdir) / "stack", worker_env=env
                )
                try:
                    stack.start()
                    written += capture_spectrum(browser, f"http://{HOST}:{stack.http_port}", args.output)
                finally:
                    stack.stop()
    for path in written:
        print(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
