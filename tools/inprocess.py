"""What one request costs inside Python: apps called directly, no sockets, no wrk.

The benchmark's wrk rows say what a whole server does; these say where a
request's time goes. Each app is called the way uvicorn calls it (one ASGI call
per request), in alternating rounds, and each figure is the median round:

- the site's middleware, against an app that only answers;
- the lesson's /ping on a bare FastAPI app, the site's /ping, a template page
  without the database (the source view), and /dynamic, split by its own
  Server-Timing header into database, template and the rest (the framework);
- the page-view write, against the same upsert through the `sqlite3` module.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.bench_apps import PONG, PONG_HEADERS, bare_fastapi
from tools.processes import HOST
from webapp.database import COUNT_VIEWS_SQL, Database, PageView
from webapp.main import create_app
from webapp.middleware import site_middleware
from webapp.requestlog import RequestLog
from webapp.settings import DEFAULT_REQUEST_LOG_SIZE, Settings

ROUNDS = 7
MIDDLEWARE_CALLS = 2000
PAGE_CALLS = 200
WRITE_CALLS = 2000
TEMPLATE_PAGE = "/source/templates/dynamic.html"
TIMING = re.compile(r"(\w+);dur=([\d.]+)")


def _scope(path: str) -> Scope:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", HOST.encode()), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        "client": (HOST, 50000), "server": (HOST, 8000),
    }  # fmt: skip


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Timings:
    """A `send` that checks each answer is a 200 and adds up its Server-Timing entries."""

    def __init__(self) -> None:
        self.milliseconds: dict[str, float] = {}

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.start":
            return
        if message["status"] != 200:
            raise RuntimeError(f"in-process request answered {message['status']}")
        for name, value in message["headers"]:
            if name == b"server-timing":
                for entry, duration in TIMING.findall(value.decode()):
                    self.milliseconds[entry] = self.milliseconds.get(entry, 0.0) + float(duration)


async def _microseconds_per_call(app: ASGIApp, path: str, calls: int, timings: _Timings) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await app(_scope(path), _receive, timings.send)
    return (time.perf_counter() - started) / calls * 1_000_000


async def _answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": PONG_HEADERS})
    await send({"type": "http.response.body", "body": PONG})


def measure_middleware() -> float:
    """Return the microseconds the site's middleware adds to one request."""
    wrapped: ASGIApp = _answer_ok
    for middleware_class, args, kwargs in reversed(site_middleware(Settings(), RequestLog(DEFAULT_REQUEST_LOG_SIZE))):
        wrapped = middleware_class(wrapped, *args, **kwargs)

    async def rounds() -> float:
        with_middleware, without = [], []
        for _ in range(ROUNDS):
            with_middleware.append(await _microseconds_per_call(wrapped, "/ping", MIDDLEWARE_CALLS, _Timings()))
            without.append(await _microseconds_per_call(_answer_ok, "/ping", MIDDLEWARE_CALLS, _Timings()))
        return statistics.median(with_middleware) - statistics.median(without)

    return round(max(0.0, asyncio.run(rounds())), 2)


def measure_pages(run_dir: Path) -> dict[str, Any]:
    """Microseconds per request for each page, and /dynamic's split into database, template and framework."""
    site = create_app(Settings(database_url=f"sqlite:///{run_dir / 'in-process.db'}", bench_runs_dir=run_dir))
    cases: dict[str, tuple[ASGIApp, str]] = {
        "bare_fastapi_ping": (bare_fastapi(), "/ping"),
        "site_ping": (site, "/ping"),
        "template_page": (site, TEMPLATE_PAGE),
        "dynamic": (site, "/dynamic"),
    }
    dynamic_timings = _Timings()

    async def rounds() -> dict[str, list[float]]:
        figures: dict[str, list[float]] = {name: [] for name in cases}
        for app, path in cases.values():  # warm up: templates compiled, tables made, threads started
            await _microseconds_per_call(app, path, PAGE_CALLS // 4, _Timings())
        for _ in range(ROUNDS):
            for name, (app, path) in cases.items():
                timings = dynamic_timings if name == "dynamic" else _Timings()
                figures[name].append(await _microseconds_per_call(app, path, PAGE_CALLS, timings))
        return figures

    try:
        figures = asyncio.run(rounds())
    finally:
        site.state.site.database.dispose()
    per_request = {name: round(statistics.median(values), 1) for name, values in figures.items()}
    dynamic_calls = ROUNDS * PAGE_CALLS
    database_us = dynamic_timings.milliseconds.get("db", 0.0) * 1000 / dynamic_calls
    template_us = dynamic_timings.milliseconds.get("render", 0.0) * 1000 / dynamic_calls
    return {
        **per_request,
        "dynamic_split": {
            "database": round(database_us, 1),
            "template": round(template_us, 1),
            "framework": round(max(0.0, per_request["dynamic"] - database_us - template_us), 1),
        },
    }


def measure_view_writes(run_dir: Path) -> dict[str, float]:
    """Microseconds per page-view write: the site's, and the same upsert straight through `sqlite3`."""
    database = Database(f"sqlite:///{run_dir / 'writes.db'}")
    asyncio.run(database.count_view("/dynamic"))  # makes the tables; the write path's connection too
    raw_sql = COUNT_VIEWS_SQL.format(table=PageView.__tablename__, rows="(?, 1)")

    def site_write() -> None:
        # One view alone, the dearest case: under load the views waiting together share one commit.
        database._add_views(lambda: ["/dynamic"])

    with closing(sqlite3.connect(run_dir / "writes.db", isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")

        def raw_write() -> None:
            raw.execute(raw_sql, ("/raw",)).fetchall()

        try:
            # The site's write runs on its lane's thread in the site; here both run in this thread, so that
            # the figures compare the writes themselves (the trip to the thread is in the /dynamic split).
            site_us, raw_us = _alternate(site_write, raw_write)
        finally:
            database.dispose()
    return {"site_count_view_us": round(site_us, 1), "raw_sqlite_upsert_us": round(raw_us, 1)}


def _alternate(first: Callable[[], None], second: Callable[[], None]) -> tuple[float, float]:
    def per_call(function: Callable[[], None]) -> float:
        started = time.perf_counter()
        for _ in range(WRITE_CALLS):
            function()
        return (time.perf_counter() - started) / WRITE_CALLS * 1_000_000

    per_call(first), per_call(second)  # warm up
    firsts, seconds = [], []
    for _ in range(ROUNDS):
        firsts.append(per_call(first))
        seconds.append(per_call(second))
    return statistics.median(firsts), statistics.median(seconds)
