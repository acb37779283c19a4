"""Unit tests: the app in this process, through Starlette's TestClient, over private copies of its folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from webapp.main import create_app
from webapp.paths import STATIC_DIR, TEMPLATES_DIR
from webapp.settings import Settings


@pytest.fixture
def site_settings(tmp_path: Path) -> Settings:
    """Settings over a private copy of static/ and templates/ (free to edit in a test), a fresh SQLite file,
    no benchmark run of this machine's and no limit on guestbook posts."""
    static_dir = tmp_path / "site" / "static"
    templates_dir = tmp_path / "site" / "templates"
    shutil.copytree(STATIC_DIR, static_dir)
    shutil.copytree(TEMPLATES_DIR, templates_dir)
    database_url = f"sqlite:///{tmp_path / 'data' / 'site.db'}"
    # No benchmark run of your own: the page shows the committed reference run, whatever this machine ran.
    bench_runs_dir = tmp_path / "bench-runs"
    return Settings(
        static_dir=static_dir,
        templates_dir=templates_dir,
        database_url=database_url,
        bench_runs_dir=bench_runs_dir,
        posts_per_minute=0,  # no limit: tests post many entries; test_ratelimit checks the limit itself
    )


class MakeClient(Protocol):
    def __call__(
        self, *, dependencies: Mapping[Callable[..., Any], Callable[..., Any]] | None = None, **settings: Any
    ) -> TestClient: ...


@pytest.fixture
def make_client(site_settings: Settings) -> Iterator[MakeClient]:
    """Build a client over a fresh app: `site_settings` with `settings` changed, and `dependencies`
    replaced (FastAPI's dependency_overrides). Its lifespan runs, as under uvicorn."""
    with ExitStack() as clients:

        def make(
            *, dependencies: Mapping[Callable[..., Any], Callable[..., Any]] | None = None, **settings: Any
        ) -> TestClient:
            app = create_app(replace(site_settings, **settings))
            app.dependency_overrides.update(dependencies or {})
            return clients.enter_context(TestClient(app))

        yield make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
