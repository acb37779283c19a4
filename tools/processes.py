"""Start, wait for and stop the outside programs the tools and tests run: uvicorn, nginx, openssl, wrk.

Everything listens on the loopback address only. The uvicorn command line is
written here once, for the stack's workers, the benchmark and the tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from webapp.paths import PROJECT_ROOT
from webapp.terminal import text as _

HOST = "127.0.0.1"
SITE_APP = "webapp.main:app"
STARTUP_SECONDS = 15.0
STOP_SECONDS = 5.0
SBIN_FOLDERS = ("/usr/sbin", "/usr/local/sbin")


class ProgramError(Exception):
    """A program could not be found or started; the message says what to do about it."""


def install_hint(program: str) -> str:
    """Given a program from Debian's and Homebrew's packages, say how to install it."""
    return _(
        "%(program)s is not installed. Install it with sudo apt-get install %(program)s on Debian, Ubuntu or WSL, "
        "or with brew install %(program)s on macOS."
    ) % {"program": program}


def refused_on_windows(command: str) -> bool:
    """On Windows, say in one sentence that `command` needs another system, and return True."""
    if os.name != "nt":
        return False
    print(
        _(
            "%(command)s needs Linux, macOS or WSL (Windows Subsystem for Linux): it runs nginx and stops "
            "processes with signals, which Windows does not have. The site itself runs on Windows."
        )
        % {"command": command},
        file=sys.stderr,
    )
    return True


def find_program(name: str) -> str | None:
    """Given a program's name, return its path: on PATH, or in an sbin folder (nginx lives there)."""
    return shutil.which(name) or next(
        (path for folder in SBIN_FOLDERS if os.access(path := f"{folder}/{name}", os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def require_free(port: int, option: str) -> None:
    """Raise ProgramError, saying what to do, when another program listens on HOST:port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port just left in TIME_WAIT is free
        try:
            sock.bind((HOST, port))
        except OSError:
            raise ProgramError(
                _(
                    "port %(port)s on %(host)s is in use by another program: stop it, or choose another port "
                    "with %(option)s %(next_port)s"
                )
                % {"port": port, "host": HOST, "option": option, "next_port": port + 1}
            ) from None


def uvicorn_command(port: int, *extra_args: str, app: str = SITE_APP, app_dir: Path = PROJECT_ROOT) -> list[str]:
    """The command that serves `app` on HOST:port with this Python's uvicorn, from any working directory."""
    return [
        sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir), "--host", HOST, "--port", str(port),
        *extra_args,
    ]  # fmt: skip


# Behind nginx: uvicorn's own --proxy-headers would believe X-Forwarded-For from any program on
# this machine; the site believes it only with the stack's secret (webapp/visitors.py).
PROXY_ARGS = ("--no-proxy-headers",)


def _die_with_parent() -> None:
    # Linux: if the program that started this child is killed, the kernel sends
    # SIGTERM to the child, so no nginx or uvicorn is left behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    umask: int = -1,
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own: Ctrl-C reaches only the tool, which then stops
    its children in order, and stop_process can stop a child with everything it started.
    `umask` (-1: this process's own) limits the modes of the files the child creates."""
    return subprocess.Popen(
        command,
        env=None if env is None else dict(env),
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        umask=umask,
    )


def stop_process(
    process: subprocess.Popen[bytes], stop_signal: int = signal.SIGTERM, *, seconds: float = STOP_SECONDS
) -> None:
    """Stop a process started by spawn and everything it started; kill them if they take too long."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, stop_signal)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=seconds)  # a process in uninterruptible sleep: leave it, stop the others


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return _("killed by %(signal)s") % {"signal": signal.Signals(-returncode).name}
    return _("exited with status %(status)s") % {"status": returncode}


def wait_until_listening(
    port: int, process: subprocess.Popen[bytes], what: str, *, seconds: float = STARTUP_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProgramError(
                _("%(program)s %(exit)s while starting") % {"program": what, "exit": describe_exit(process.returncode)}
            )
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ProgramError(
        _("%(program)s did not start listening on %(address)s within %(seconds)s s")
        % {"program": what, "address": f"{HOST}:{port}", "seconds": f"{seconds:.0f}"}
    )


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every uvicorn here runs in: this one, plus `extra`, with output unbuffered
    (log lines appear as they happen) and no PYTHONPATH (the app is found through --app-dir)."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    environment.pop("PYTHONPATH", None)
    return environment


@dataclass
class Uvicorn:
    """A uvicorn process started by run_uvicorn, writing its output to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def run_uvicorn(
    *extra_args: str,
    cwd: Path,
    app: str = SITE_APP,
    app_dir: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[Uvicorn]:
    """Serve `app` from `cwd` on a free port until the block ends; yield once the port listens.

    It runs in child_environment(env); its output goes to `log_path` (by default a file in `cwd`).
    """
    port = free_port()
    log_path = log_path or cwd / f"uvicorn-{port}.log"
    with open(log_path, "wb") as log_file:
        process = spawn(
            uvicorn_command(port, *extra_args, app=app, app_dir=app_dir),
            env=child_environment(env),
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Uvicorn(process, port, log_path)
    try:
        try:
            wait_until_listening(port, process, f"uvicorn ({app})")
        except ProgramError as error:
            raise ProgramError(_("%(error)s; its output:") % {"error": error} + "\n" + server.output()) from None
        yield server
    finally:
        stop_process(process)
