from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import PROJECT_ROOT, LiveServer, run_uvicorn
from webapp.main import create_app
from webapp.settings import Settings


@pytest.fixture
def site_dirs(tmp_path: Path) -> Settings:
    """Settings over a private copy of static/ and templates/, free to edit in a test."""
    static_dir = tmp_path / "site" / "static"
    templates_dir = tmp_path / "site" / "templates"
    shutil.copytree(PROJECT_ROOT / "static", static_dir)
    shutil.copytree(PROJECT_ROOT / "templates", templates_dir)
    return Settings(static_dir=static_dir, templates_dir=templates_dir)


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
    with run_uvicorn(cwd=tmp_path_factory.mktemp("elsewhere")) as server:
        yield server
