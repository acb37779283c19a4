"""Helpers for tests that run real servers on loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from webapp.stack import find_program, free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
STARTUP_SECONDS = 15.0
T = TypeVar("T")


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
    """A real `uvicorn webapp.main:app` process on a loopback port."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.url = f"http://{LOOPBACK}:{port}"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """One request on its own connection, closed afterwards."""
        return httpx.get(self.url + path, timeout=10, **kwargs)


@contextmanager
def run_uvicorn(
    *extra_args: str, app_dir: Path = PROJECT_ROOT, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start uvicorn in `cwd` (not the project), wait until /ping answers, and stop it afterwards."""
    port = free_port()
    log_path = cwd / f"uvicorn-{port}.log"
    command = [
        sys.executable, "-m", "uvicorn", "webapp.main:app",
        "--app-dir", str(app_dir), "--host", LOOPBACK, "--port", str(port), *extra_args,
    ]  # fmt: skip
    process_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process_env.pop("PYTHONPATH", None)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=cwd, env=process_env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LiveServer(process, port, log_path)
    try:
        wait_for(
            lambda: _answers(server),
            seconds=STARTUP_SECONDS,
            what=f"uvicorn on port {port} to answer; its output:\n{server.output()}",
        )
        yield server
    finally:
        stop_process_group(process)


def _answers(server: LiveServer) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"uvicorn exited with {server.process.returncode}:\n{server.output()}")
    return httpx.get(f"{server.url}/ping", timeout=1).status_code == 200


def stop_process_group(process: subprocess.Popen[bytes], *, seconds: float = 10) -> None:
    """Stop a process started with start_new_session=True and everything it started."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=seconds)


def copy_project(destination: Path) -> Path:
    """Copy the site (code, templates, static files) into `destination` and return it."""
    for folder in ("webapp", "templates", "static", "translations"):
        shutil.copytree(PROJECT_ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def raw_get(port: int, target: str, *, timeout: float = 5) -> tuple[int, bytes]:
    """Send `GET target` exactly as written (no client-side normalising) and return (status, body)."""
    request = f"GET {target} HTTP/1.1\r\nHost: {LOOPBACK}\r\nConnection: close\r\n\r\n".encode("latin-1")
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
