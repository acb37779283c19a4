"""Settings: safe defaults with no configuration, found from the package, and environment overrides."""

from __future__ import annotations

import pytest

from webapp.paths import PROJECT_ROOT
from webapp.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_point_into_the_checkout_whatever_the_working_directory() -> None:
    settings = Settings()
    assert settings.static_dir == PROJECT_ROOT / "static"
    assert settings.templates_dir == PROJECT_ROOT / "templates"
    assert settings.translations_dir == PROJECT_ROOT / "translations"
    assert settings.bench_dir == PROJECT_ROOT / "generated" / "bench"
    assert all(path.is_absolute() for path in (settings.static_dir, settings.templates_dir, settings.bench_dir))
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'data' / 'site.db'}"
    assert settings.static_cache_control == "no-cache"


def test_an_empty_environment_keeps_every_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "WEBAPP_STATIC_CACHE_CONTROL", "WEBAPP_REQUEST_LOG_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env() == Settings()


def test_the_environment_changes_what_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1/db")
    monkeypatch.setenv("WEBAPP_STATIC_CACHE_CONTROL", "public, max-age=60")
    monkeypatch.setenv("WEBAPP_REQUEST_LOG_SIZE", "7")
    settings = Settings.from_env()
    assert settings.database_url == "postgresql+psycopg://u:p@127.0.0.1/db"
    assert settings.static_cache_control == "public, max-age=60"
    assert settings.request_log_size == 7
    assert settings.static_dir == Settings().static_dir


def test_an_empty_database_url_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    assert Settings.from_env().database_url == DEFAULT_DATABASE_URL


@pytest.mark.parametrize("bad", ["0", "-3", "many", "1.5", ""])
def test_a_bad_log_size_is_refused_at_start_up_with_a_sentence(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("WEBAPP_REQUEST_LOG_SIZE", bad)
    with pytest.raises(RuntimeError, match=rf"WEBAPP_REQUEST_LOG_SIZE must be a whole number, at least 1, not '{bad}'"):
        Settings.from_env()
