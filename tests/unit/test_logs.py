"""What the server process logs: a repeated error once per window, and no query strings behind the stack."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from webapp.logs import HEALTH_CHECK, OncePerWindow, ShortAccessLine
from webapp.main import create_app
from webapp.settings import Settings


def record(message: str, *args: object, name: str = "asyncio") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args or None, None)


def test_the_same_error_is_written_once_per_window_then_counted() -> None:
    now = [0.0]
    once = OncePerWindow(10, clock=lambda: now[0])
    passed = [once.filter(record("socket.accept() out of system resource")) for _ in range(1000)]
    assert passed.count(True) == 1
    assert once.filter(record("another message"))  # a different error is not held back
    now[0] = 10.5
    later = record("socket.accept() out of system resource")
    assert once.filter(later)
    assert later.getMessage().endswith("(999 more like this in 10 s were not written)")


def test_a_counted_message_with_arguments_still_formats() -> None:
    now = [0.0]
    once = OncePerWindow(10, clock=lambda: now[0])
    assert once.filter(record("%s failed", "accept"))
    assert not once.filter(record("%s failed", "accept"))
    now[0] = 11
    later = record("%s failed", "accept")
    assert once.filter(later) and later.getMessage() == "accept failed (1 more like this in 10 s were not written)"


def test_behind_the_stack_the_access_line_keeps_the_path_without_the_query_string() -> None:
    line = record(
        '%s - "%s %s HTTP/%s" %d', "192.0.2.9:0", "GET", "/dynamic?name=Jiwoo", "1.1", 200, name="uvicorn.access"
    )
    assert ShortAccessLine(query_string=False).filter(line)
    assert line.getMessage() == '192.0.2.9:0 - "GET /dynamic HTTP/1.1" 200'


def test_on_a_learners_uvicorn_the_access_line_keeps_the_query_and_cuts_a_long_path() -> None:
    line = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/" + "x" * 8000 + "?name=Jiwoo", "1.1", 404)
    assert ShortAccessLine().filter(line)
    assert line.getMessage() == f'127.0.0.1:5000 - "GET /{"x" * 199}?name=Jiwoo HTTP/1.1" 404'


def test_the_stacks_health_checks_are_in_no_log(site_settings: Settings) -> None:
    """Once a second per worker: written, they would fill /log and the terminal within minutes."""
    app = create_app(site_settings)
    with TestClient(app, client=("127.0.0.1", 5000), base_url="http://127.0.0.1") as stack:
        assert stack.get(HEALTH_CHECK).json() == {"message": "pong"}
        stack.get("/ping?mine")
        paths = [(entry["path"], entry["query"]) for entry in stack.get("/api/requests").json()["requests"]]
    assert ("/ping", "mine") in paths and ("/ping", "health-check") not in paths
    with TestClient(app, client=("192.0.2.5", 5000)) as stranger:  # someone else cannot hide their requests so
        stranger.get(HEALTH_CHECK)
        assert any(entry["query"] == "health-check" for entry in stranger.get("/api/requests").json()["requests"])
    line = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", HEALTH_CHECK, "1.1", 200, name="uvicorn.access")
    assert not ShortAccessLine().filter(line)
