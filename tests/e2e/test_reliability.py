"""The database keeps every write under concurrent load, across workers, and through a crash.

Each test talks to real servers on 127.0.0.1 only, with a bounded number of requests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support import LiveServer, run_site, run_stack, wait_for

VIEWS = 500
CONCURRENCY = 50
POSTS = 200


def hammer(
    count: int,
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    keep_alive: bool = True,
) -> list[httpx.Response]:
    """Send `count` requests, at most CONCURRENCY at once, and return the responses in order.
    Without `keep_alive`, each request has a connection of its own."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=None if keep_alive else 0)
        gate = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def one(number: int) -> httpx.Response:
                async with gate:
                    return await request(client, number)

            return await asyncio.gather(*(one(number) for number in range(count)))

    return asyncio.run(run())


def stored_views(url: str, path: str = "/dynamic") -> int:
    response = httpx.get(f"{url}/api/views")
    assert response.status_code == 200, response.text
    return response.json()["views"].get(path, 0)


def assert_counts_every_view(url: str, *, keep_alive: bool = True) -> set[str]:
    """Load /dynamic VIEWS times; the stored total must grow by exactly VIEWS. Return who answered."""
    before = stored_views(url)
    responses = hammer(VIEWS, lambda client, _: client.get(f"{url}/dynamic"), keep_alive=keep_alive)
    assert [r.status_code for r in responses] == [200] * VIEWS
    assert stored_views(url) == before + VIEWS
    return {r.headers["x-served-by"] for r in responses}


def server_env(database_url: str) -> dict[str, str]:
    # These tests post thousands of entries from one address on purpose: no per-address post limit.
    return {"DATABASE_URL": database_url, "WEBAPP_POSTS_PER_MINUTE": "0"}


def test_concurrent_views_are_all_counted(tmp_path: Path, database_url: str) -> None:
    with run_site(cwd=tmp_path, env=server_env(database_url)) as server:
        assert_counts_every_view(server.url)


def test_two_workers_on_one_database_count_every_view(tmp_path: Path, database_url: str) -> None:
    with run_site("--workers", "2", cwd=tmp_path, env=server_env(database_url)) as server:
        seen: set[str] = set()
        # Both worker processes share the port; wait until the second one has started too.
        wait_for(
            lambda: seen.add(httpx.get(f"{server.url}/ping").headers["x-served-by"]) or len(seen) == 2,
            seconds=15,
            what="both uvicorn workers to answer",
        )
        # A connection of its own for each view: asyncio's accept loop takes every waiting connection at
        # once, so a few kept-alive ones could all land on one worker.
        served_by = assert_counts_every_view(server.url, keep_alive=False)
    assert len(served_by) == 2, served_by


def test_views_through_nginx_to_two_workers_are_all_counted(tmp_path: Path, database_url: str) -> None:
    with run_stack(tmp_path, database_url=database_url) as stack:
        served_by = assert_counts_every_view(stack.url)
    assert len(served_by) == 2, served_by


def test_concurrent_posts_all_come_back_exactly_once(tmp_path: Path, database_url: str) -> None:
    with run_site(cwd=tmp_path, env=server_env(database_url)) as server:
        responses = hammer(
            POSTS,
            lambda client, n: client.post(f"{server.url}/api/guestbook", json={"name": "load", "message": f"post {n}"}),
        )
        assert [r.status_code for r in responses] == [201] * POSTS
        entries = httpx.get(f"{server.url}/api/guestbook", params={"limit": 1000}).json()["entries"]
    messages = sorted(entry["message"] for entry in entries)
    assert messages == sorted(f"post {n}" for n in range(POSTS))
    assert len({entry["id"] for entry in entries}) == POSTS


def _post_until_stopped(server: LiveServer, stop: threading.Event, prefix: str, accepted: list[str]) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for number in range(10_000):
            if stop.is_set():
                return
            message = f"{prefix}-{number}"
            try:
                response = client.post("/api/guestbook", json={"name": "crash", "message": message})
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 201:
                accepted.append(message)


def test_every_acknowledged_post_survives_a_kill(tmp_path: Path, database_url: str) -> None:
    accepted: list[str] = []
    stop = threading.Event()
    with run_site(cwd=tmp_path, env=server_env(database_url)) as server:
        writers = [
            threading.Thread(target=_post_until_stopped, args=(server, stop, f"writer{n}", accepted)) for n in range(4)
        ]
        for writer in writers:
            writer.start()
        wait_for(lambda: len(accepted) >= 100, seconds=30, what="100 acknowledged posts")
        os.killpg(server.process.pid, signal.SIGKILL)  # mid-stream, no shutdown at all
        server.process.wait(timeout=10)
        stop.set()
        for writer in writers:
            writer.join(timeout=10)

    with run_site(cwd=tmp_path, env=server_env(database_url)) as restarted:
        entries = httpx.get(f"{restarted.url}/api/guestbook", params={"limit": 1000}).json()["entries"]
        stored = [entry["message"] for entry in entries]
        if len(stored) == 1000:  # more than one page: ask the database how many there are
            pytest.fail("more than 1000 posts were written; lower the load of this test")
    assert set(accepted) <= set(stored)
    assert len(stored) == len(set(stored))
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_entry_is_still_there_after_a_restart(tmp_path: Path, database_url: str) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with run_site(cwd=tmp_path, env=server_env(database_url)) as server:
        posted = httpx.post(f"{server.url}/guestbook", content="name=learner&message=see+you+later", headers=form)
        assert posted.status_code == 303
    time.sleep(0.1)
    with run_site(cwd=tmp_path, env=server_env(database_url)) as server:
        page = httpx.get(f"{server.url}/guestbook").text
    assert "see you later" in page
