"""Helpers for tests that run real servers on loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.applications import Starlette

from tools.processes import (
    HOST,
    STARTUP_SECONDS,
    Uvicorn,
    find_program,
    free_port,
    run_uvicorn,
    spawn,
    stop_process,
)
from webapp.paths import PROJECT_ROOT
from webapp.spectrum import PRERENDERED_FOLDER

STACK_START_SECONDS = 20.0
T = TypeVar("T")


def examples(under_ci: int) -> int:
    """How many examples a Hypothesis test tries: all of them under CI, a third in the quick loop on your
    machine (`pytest tests/unit -n auto`), where a run should take seconds."""
    return under_ci if os.environ.get("CI") == "true" else max(1, under_ci // 3)


def wait_for(check: Callable[[], T | None], *, seconds: float, what: str, interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy, for at most `seconds`; return that value."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
        except (httpx.TransportError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(interval)


def require_program(name: str) -> str:
    """Return the path of an outside program; skip locally, fail under CI, when it is missing."""
    path = find_program(name)
    if path:
        return path
    reason = f"{name} is not installed (on Debian: apt-get install {name})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have {name}: {reason}")
    pytest.skip(reason)


class LiveServer:
    """A real `uvicorn webapp.main:app` process on a loopback port, answering /ping."""

    def __init__(self, uvicorn: Uvicorn) -> None:
        self.process = uvicorn.process
        self.port = uvicorn.port
        self.url = uvicorn.url
        self.output = uvicorn.output

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """One request on its own connection, closed afterwards."""
        return httpx.get(self.url + path, timeout=10, **kwargs)


# How README.md starts the site for the lesson's loop: a save in webapp/ restarts the server.
README_RELOAD_ARGS = ("--reload", "--reload-dir", "webapp")


@contextmanager
def run_site(
    *extra_args: str, cwd: Path, app_dir: Path = PROJECT_ROOT, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start the site with uvicorn in `cwd` (not the project), wait until /ping answers, stop it afterwards."""
    with run_uvicorn(*extra_args, cwd=cwd, app_dir=app_dir, env=env) as uvicorn:
        server = LiveServer(uvicorn)
        wait_for(
            lambda: _answers(server),
            seconds=STARTUP_SECONDS,
            what=f"uvicorn on port {server.port} to answer; its output:\n{server.output()}",
        )
        yield server


def _answers(server: LiveServer) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"uvicorn exited with {server.process.returncode}:\n{server.output()}")
    return httpx.get(f"{server.url}/ping", timeout=1).status_code == 200


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    run_dir: Path
    log_path: Path

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "stack.json").read_text())

    @property
    def url(self) -> str:
        return self.state["http_url"]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        return {worker["pid"] for worker in self.state["workers"]}

    def worker_urls(self) -> list[str]:
        return [f"http://{HOST}:{worker['port']}" for worker in self.state["workers"]]


@contextmanager
def run_stack(
    tmp_path: Path,
    *extra_args: str,
    database_url: str | None = None,
    project: Path = PROJECT_ROOT,
    ready_status: int = 200,
) -> Iterator[RunningStack]:
    """`python -m tools.stack` from `project` (a copy, for a test that changes its files), until the block ends;
    yield once its /ping answers `ready_status` (301 with --redirect-to-https)."""
    require_program("nginx")
    require_program("openssl")
    run_dir = tmp_path / "run"
    log_path = tmp_path / "stack.log"
    command = [
        sys.executable, "-m", "tools.stack", "--run-dir", str(run_dir), "--worker-logs",
        "--http-port", str(free_port()), "--https-port", str(free_port()), *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'site.db'}"}
    with open(log_path, "wb") as log:
        process = spawn(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack = RunningStack(process, run_dir, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the stack exited with {process.returncode}:\n{stack.output()}")
        answered = (run_dir / "stack.json").exists() and httpx.get(f"{stack.url}/ping", timeout=1).status_code
        return answered == ready_status

    try:
        wait_for(ready, seconds=STACK_START_SECONDS, what=f"the stack to answer; its output:\n{stack.output()}")
        yield stack
    finally:
        stop_process(process, seconds=10)


def markdown_table(text: str, header: str) -> list[list[str]]:
    """Given a Markdown text and the start of a table's header row, return the table's rows as lists of cells."""
    lines = text.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(f"| {header}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def get_routes(app: Starlette) -> set[str]:
    """Given the app, return the path of every GET route, those of included routers too."""
    routes = [route for top in app.routes for route in getattr(getattr(top, "original_router", None), "routes", [top])]
    return {route.path for route in routes if isinstance(route, APIRoute) and "GET" in route.methods}


def copy_project(destination: Path) -> Path:
    """Copy the site (code, templates, static files, but not what `python -m tools.prerender` made there) into
    `destination` and return it."""
    skipped = shutil.ignore_patterns("__pycache__", PRERENDERED_FOLDER)
    for folder in ("webapp", "templates", "static", "translations"):
        shutil.copytree(PROJECT_ROOT / folder, destination / folder, ignore=skipped)
    return destination


def raw_request(port: int, request: bytes, *, timeout: float = 5) -> tuple[int, bytes]:
    """Send `request` byte for byte (no client-side normalising) and return (status, body).

    Reads the head, then Content-Length bytes of body (or up to the close), so a
    server that keeps the connection open does not make this wait for its timeout.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = re.search(rb"^content-length:\s*(\d+)\s*$", head, re.IGNORECASE | re.MULTILINE)
        while (length is None or len(body) < int(length.group(1))) and (chunk := sock.recv(65536)):
            body += chunk
    return int(head.split(b" ", 2)[1]), body


def raw_get(port: int, target: str, *, timeout: float = 5) -> tuple[int, bytes]:
    """Send `GET target` exactly as written and return (status, body)."""
    request = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode("latin-1")
    return raw_request(port, request, timeout=timeout)


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock on `path` the way a backup or an sqlite3 shell left in a transaction does."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


def swap_folder_for_a_link(folder: Path, outside: Path, stop: threading.Event) -> None:
    """Until told to stop: move the folder aside, put a link to `outside` in its place, then put it back
    (someone who may write beside it, racing a command that writes into it)."""
    aside, link = folder.with_name(f"{folder.name}.aside"), folder.with_name(f"{folder.name}.link")
    link.symlink_to(outside)
    while not stop.is_set():
        # Each step the command's own writing got in the way of is skipped.
        for source, destination in [(folder, aside), (link, folder), (folder, link), (aside, folder)]:
            with contextlib.suppress(OSError):
                source.rename(destination)
        if os.path.lexists(aside):  # the command made the folder again meanwhile: start over with its copy
            shutil.rmtree(aside, ignore_errors=True)
