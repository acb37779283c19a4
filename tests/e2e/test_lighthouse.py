"""Lighthouse, run against Debian's Chromium: every main page scores 100 for accessibility, best practices
and SEO (meta description, hreflang alternates), and stays fast."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import LiveServer, require_program
from tools.browser import CHROMIUM_ARGS
from webapp.paths import PROJECT_ROOT

LIGHTHOUSE = PROJECT_ROOT / "node_modules" / ".bin" / "lighthouse"
PAGES = [
    "/static/index.html",
    "/static/en/index.html",
    "/dynamic",
    "/dynamic?lang=en",
    "/compare",
    "/guestbook",
    "/log",
    "/bench",
    "/practice",
    "/live",
]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
# What Lighthouse does that no category scores: screenshots of the page, and the back/forward-cache check (a
# second navigation away and back). Left out, each page takes about a sixth less time; no score changes.
UNSCORED_WORK = ["--disable-full-page-screenshot", "--skip-audits=bf-cache,screenshot-thumbnails,final-screenshot"]
# Performance is timed on a shared machine: a page this small scores 1.0 unless the machine stalls.
PERFORMANCE_AT_LEAST = 0.95


def require_lighthouse() -> Path:
    if LIGHTHOUSE.exists():
        return LIGHTHOUSE
    reason = "Lighthouse is not installed: run `npm ci` in the checkout (it needs Node.js 18.16 or newer)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have Lighthouse: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("path", PAGES)
def test_lighthouse_finds_nothing_to_fix(live_server: LiveServer, tmp_path: Path, path: str) -> None:
    chromium = require_program("chromium")
    lighthouse = require_lighthouse()
    report = tmp_path / "report.json"
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    subprocess.run(
        [
            str(lighthouse), live_server.url + path, "--quiet", "--output=json", f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}", *UNSCORED_WORK,
        ],
        env={**os.environ, "CHROME_PATH": chromium},
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    result = json.loads(report.read_text())
    scores = {name: category["score"] for name, category in result["categories"].items()}
    to_fix = [
        f"{name}: {result['audits'][ref['id']]['title']}"
        for name, category in result["categories"].items()
        for ref in category["auditRefs"]
        if ref["weight"] > 0 and (result["audits"][ref["id"]]["score"] or 0) < 1
    ]
    assert scores["accessibility"] == scores["best-practices"] == scores["seo"] == 1, to_fix
    assert scores["performance"] >= PERFORMANCE_AT_LEAST, to_fix
