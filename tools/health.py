"""Whether a worker still answers: its /ping, asked directly, on a thread of its own.

A worker can be alive and answer nothing: a deadlock, an endless loop, a process
stopped with SIGSTOP. Its process has not exited, so only asking it shows it. The
kernel still accepts connections for a stopped process (they wait in the listening
socket's queue), so a connection alone proves nothing: the check waits for the answer,
within a deadline. nginx is bypassed: it would send the question to any worker.
"""

from __future__ import annotations

import enum
import socket
import threading
import time
from dataclasses import dataclass

from tools.processes import HOST
from webapp.logs import HEALTH_CHECK

# /ping with a query it ignores, so that the workers' logs and /log can leave the checks out (webapp/logs.py).
PING_REQUEST = (
    f"GET {HEALTH_CHECK} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: tools.stack health check\r\nConnection: close\r\n\r\n"
).encode("ascii")
ANSWER_START = b"HTTP/1.1 200 "
MAX_ANSWER_BYTES = 4096  # /ping's answer is about 150 bytes; nothing more is read


class Health(enum.Enum):
    ANSWERED = "answered"  # 200 within the deadline
    NOT_LISTENING = "not listening"  # connection refused: starting up, or gone
    SILENT = "silent"  # no answer within the deadline, a broken one, or not 200


def ask_ping(port: int, *, timeout: float) -> Health:
    """Given a worker's port, GET /ping there and say how it went, all within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as connection:
            connection.sendall(PING_REQUEST)
            answer = b""
            while len(answer) < len(ANSWER_START):
                connection.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = connection.recv(MAX_ANSWER_BYTES)
                if not chunk:
                    break
                answer += chunk
    except ConnectionRefusedError:
        return Health.NOT_LISTENING
    except OSError:  # a timeout is one
        return Health.SILENT
    return Health.ANSWERED if answer.startswith(ANSWER_START) else Health.SILENT


@dataclass(frozen=True)
class Silence:
    checks: int  # failed in a row
    seconds: float  # since the first of them began


class PingWatch:
    """Ask a worker's /ping every `interval` seconds, each answer awaited at most `timeout`
    seconds, on a daemon thread, and keep count of the checks it has failed in a row.

    A worker that has never listened yet is starting up: its refused connections are not
    failures. Once it has listened, every check that gets no 200 in time is one.
    """

    def __init__(self, port: int, *, interval: float, timeout: float) -> None:
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self._listened = False
        self._failures = 0
        self._silent_since = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ping-watch-{port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask no more. A check under way ends by itself within `timeout`."""
        self._stopping.set()

    def silence(self) -> Silence:
        with self._lock:
            seconds = time.monotonic() - self._silent_since if self._failures else 0.0
            return Silence(self._failures, seconds)

    def record(self, health: Health, began: float) -> None:
        """Count one check's outcome (`began`: its time.monotonic() at the start)."""
        with self._lock:
            if health is Health.ANSWERED:
                self._listened = True
                self._failures = 0
            elif health is Health.SILENT or self._listened:
                self._listened = True
                if not self._failures:
                    self._silent_since = began
                self._failures += 1

    def _run(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            health = ask_ping(self.port, timeout=self.timeout)
            if self._stopping.is_set():
                return
            self.record(health, began)
            self._stopping.wait(max(began + self.interval - time.monotonic(), 0.0))
