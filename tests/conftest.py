from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.browser import PageProblems, launch_chromium
from tests.support import PROJECT_ROOT, LiveServer, require_program, run_uvicorn
from webapp.main import create_app
from webapp.settings import Settings


@pytest.fixture
def site_dirs(tmp_path: Path) -> Settings:
    """Settings over a private copy of static/ and templates/, free to edit in a test."""
    static_dir = tmp_path / "site" / "static"
    templates_dir = tmp_path / "site" / "templates"
    shutil.copytree(PROJECT_ROOT / "static", static_dir)
    shutil.copytree(PROJECT_ROOT / "templates", templates_dir)
    database_url = f"sqlite:///{tmp_path / 'data' / 'site.db'}"
    return Settings(static_dir=static_dir, templates_dir=templates_dir, database_url=database_url)


@pytest.fixture
def app(site_dirs: Settings) -> FastAPI:
    return create_app(site_dirs)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real uvicorn process serving the checkout, started from an unrelated directory."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with run_uvicorn(cwd=elsewhere, env={"DATABASE_URL": f"sqlite:///{elsewhere / 'site.db'}"}) as server:
        yield server


POSTGRES_URL_VARIABLE = "TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://webapp:webapp@127.0.0.1:5432/webapp_test"


def postgres_url_or_skip() -> str:
    """The test PostgreSQL server's URL, emptied of tables; skip (fail under CI) when none answers."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS entry, pageview"))
    except OperationalError as error:
        reason = f"no PostgreSQL server at {url} ({str(error).splitlines()[0]}); set {POSTGRES_URL_VARIABLE}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have PostgreSQL: {reason}")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on a fresh SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'site.db'}"
    return postgres_url_or_skip()


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
