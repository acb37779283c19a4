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
# uvicorn's parser (h11) stops reading a request head at 16 KiB (400); nginx takes header lines of 8 KiB.
DEFAULT_MAX_HEADER_BYTES = 8 * 1024
# Guestbook posts one address may make: this many at once, then one every 60/N seconds.
DEFAULT_POSTS_PER_MINUTE = 10
# The guestbook keeps this many newest entries and deletes older ones as new ones come.
DEFAULT_GUESTBOOK_MAX_ENTRIES = 10_000
# The stack tells its workers its run folder: /live reads nginx's access log and the stack's state there.
STACK_RUN_DIR_VARIABLE = "WEBAPP_STACK_RUN_DIR"


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
    # Off: a visitor sees others' requests only as method, path and status (no address, no query).
    show_all_visitors: bool = False
    posts_per_minute: int = DEFAULT_POSTS_PER_MINUTE  # 0: no limit
    guestbook_max_entries: int = DEFAULT_GUESTBOOK_MAX_ENTRIES
    # Set by the stack for its workers and sent by its nginx: a request that carries it came through nginx.
    proxy_secret: str = ""
    stack_run_dir: Path | None = None  # set for the stack's workers only

    @classmethod
    def from_env(cls) -> Settings:
        """Given the process environment, return settings; unset names keep defaults."""
        show_all = os.environ.get("WEBAPP_SHOW_ALL_VISITORS", "0")
        if show_all not in ("0", "1"):
            raise RuntimeError(f"WEBAPP_SHOW_ALL_VISITORS must be 0 or 1, not {show_all!r}")
        return cls(
            static_cache_control=os.environ.get("WEBAPP_STATIC_CACHE_CONTROL", DEFAULT_STATIC_CACHE_CONTROL),
            request_log_size=_whole_number("WEBAPP_REQUEST_LOG_SIZE", DEFAULT_REQUEST_LOG_SIZE, minimum=1),
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            show_all_visitors=show_all == "1",
            posts_per_minute=_whole_number("WEBAPP_POSTS_PER_MINUTE", DEFAULT_POSTS_PER_MINUTE, minimum=0),
            guestbook_max_entries=_whole_number(
                "WEBAPP_GUESTBOOK_MAX_ENTRIES", DEFAULT_GUESTBOOK_MAX_ENTRIES, minimum=1
            ),
            proxy_secret=os.environ.get("WEBAPP_PROXY_SECRET", ""),
            stack_run_dir=Path(run_dir) if (run_dir := os.environ.get(STACK_RUN_DIR_VARIABLE)) else None,
        )


def _whole_number(name: str, default: int, *, minimum: int) -> int:
    value = os.environ.get(name, str(default))
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise RuntimeError(f"{name} must be a whole number, at least {minimum}, not {value!r}")
    return int(value)
