"""Fixtures both test folders use: the databases every database test runs on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

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
