"""nginx's error log, written by the stack: no visitor's query string or Referer, and at a bounded rate.

nginx writes each error with the request line and the Referer it concerns, and a line for every
request or connection a client can make fail (a body too large, a TLS handshake of junk): one
client making thousands a second wrote 130 MB in 20 s here, and the lines held what visitors typed
(`?name=`). nginx's own format cannot leave those out and has no rate limit. So the stack's nginx
sends its error lines here over syslog (UDP on 127.0.0.1: nginx's workers, which may run as
another user, reach it without a file), and this writes them to error.log: each query string and
Referer removed, each line cut to MAX_LINE characters, at most LINES_PER_SECOND a second (bursts
of BURST), with one line saying how many were left out.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import TextIO

from tools.processes import HOST
from tools.runfolder import open_private_log

LINES_PER_SECOND = 20
BURST = 100
MAX_LINE = 600
MAX_DATAGRAM = 65536
POLL_SECONDS = 0.2
# nginx's syslog message: "<PRI>Mmm dd hh:mm:ss nginx: " before the line it would write to a file.
SYSLOG_HEADER = re.compile(rb"^<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [^ :]+: ")
QUERY_IN_QUOTES = re.compile(r'((?:request|upstream): "[^"?]*)\?[^" ]*')
REFERRER = re.compile(r', referrer: "[^"]*"')


def cleaned(datagram: bytes) -> str:
    """nginx's error line from one syslog datagram, without query strings or the Referer, cut short."""
    text = SYSLOG_HEADER.sub(b"", datagram).decode("utf-8", errors="replace")
    text = REFERRER.sub("", QUERY_IN_QUOTES.sub(r"\1", text))
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"


class LineBudget:
    """A token bucket: `per_second` lines a second, `burst` at once; counts the lines it refused."""

    def __init__(self, per_second: float = LINES_PER_SECOND, burst: int = BURST) -> None:
        self.per_second, self.burst = per_second, burst
        self._tokens = float(burst)
        self._when: float | None = None
        self.refused = 0

    def take(self, now: float) -> bool:
        since = 0.0 if self._when is None else now - self._when
        self._tokens = min(float(self.burst), self._tokens + since * self.per_second)
        self._when = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.refused += 1
        return False


class ErrorLogRelay:
    """Receive nginx's error lines on a UDP port of 127.0.0.1 and write them, cleaned, to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((HOST, 0))
        self._socket.settimeout(POLL_SECONDS)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nginx error log", daemon=True)
        self.budget = LineBudget()

    @property
    def nginx_target(self) -> str:
        """What nginx's `error_log` takes to send its lines here."""
        return f"syslog:server={HOST}:{self._socket.getsockname()[1]},nohostname,tag=nginx"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2 * POLL_SECONDS + 1)
        self._socket.close()

    def _run(self) -> None:
        with open(open_private_log(self.path), "a", encoding="utf-8", closefd=True) as log:
            while not self._stopping.is_set():
                try:
                    datagram, (address, _port) = self._socket.recvfrom(MAX_DATAGRAM)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if address != HOST:
                    continue
                self._write(log, datagram)

    def _write(self, log: TextIO, datagram: bytes) -> None:
        if not self.budget.take(time.monotonic()):
            return
        if self.budget.refused:
            left_out = self.budget.refused
            log.write(f"(the stack left out {left_out} error lines: more than {LINES_PER_SECOND} a second)\n")
            self.budget.refused = 0
        log.write(cleaned(datagram) + "\n")
        log.flush()
