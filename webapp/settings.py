"""Settings with safe defaults: the site starts with no configuration at all."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from webapp.paths import BENCH_DIR, BENCH_RUNS_DIR, DATA_DIR, STATIC_DIR, TEMPLATES_DIR, TRANSLATIONS_DIR

# "no-cache" does not forbid caching: it makes the browser ask the server
# every time, sending the ETag it has. An unchanged file then costs a 304
# with no body, and an edited file shows on the very next reload.
DEFAULT_STATIC_CACHE_CONTROL = "no-cache"
DEFAULT_REQUEST_LOG_SIZE = 300
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'site.db'}"
# Bodies are small here (a guestbook entry is at most 540 characters); anything
# much bigger is a mistake or an attack and gets 413 before it is read.
DEFAULT_MAX_BODY_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # what h11 allows; nginx allows up to 32 KiB


@dataclass(frozen=True)
class Settings:
    static_dir: Path = STATIC_DIR
    templates_dir: Path = TEMPLATES_DIR
    translations_dir: Path = TRANSLATIONS_DIR
    bench_dir: Path = BENCH_DIR  # the reference benchmark run, committed with the project
    bench_runs_dir: Path = BENCH_RUNS_DIR  # where `python -m tools.bench` writes your own latest run
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    static_cache_control: str = DEFAULT_STATIC_CACHE_CONTROL
    request_log_size: int = DEFAULT_REQUEST_LOG_SIZE

    @classmethod
    def from_env(cls) -> Settings:
        """Given the process environment, return settings; unset names keep defaults."""
        log_size = os.environ.get("WEBAPP_REQUEST_LOG_SIZE", str(DEFAULT_REQUEST_LOG_SIZE))
        if not log_size.isdigit() or int(log_size) < 1:
            raise RuntimeError(f"WEBAPP_REQUEST_LOG_SIZE must be a positive integer, not {log_size!r}")
        return cls(
            static_cache_control=os.environ.get("WEBAPP_STATIC_CACHE_CONTROL", DEFAULT_STATIC_CACHE_CONTROL),
            request_log_size=int(log_size),
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        )
