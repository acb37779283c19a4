"""End-to-end tests: real uvicorn, nginx, PostgreSQL and Chromium processes on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.pageproblems import PageProblems
from tests.support import LiveServer, require_program, run_site
from tools.browser import launch_chromium

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything in this folder is end-to-end, so `-m "not e2e"` selects the unit tests too.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real uvicorn process serving the checkout, started from an unrelated directory."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with run_site(cwd=elsewhere, env={"DATABASE_URL": f"sqlite:///{elsewhere / 'site.db'}"}) as server:
        yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop in this
    # thread while it runs, and other modules' tests use asyncio.run.
    require_program("chromium")
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(chromium: Browser, problems: PageProblems) -> Iterator[Page]:
    """A fresh browser tab (own cookies) in Korean; fails the test if the page logged an error."""
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems.watch(tab)
    yield tab
    context.close()
