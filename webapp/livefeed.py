"""What /live streams: each request the site answered, read from the one who answered it.

Behind the stack the source is nginx itself: its access log (one JSON line per answer, written at least
every 250 ms, see site.conf.j2), read as it grows, and the stack's stack.json for the workers' deaths and
returns. A uvicorn alone has no nginx: the source is its own request log, and everything was answered by it.

Each worker process reads its source once for all its open pages and keeps the last RING_SIZE items in a
ring; every page keeps only its place in that ring. A page that reads slowly falls behind the ring's start
and is told how many items it missed, so a thousand pages cost a worker no more memory than one.
A flood (a benchmark, thousands of requests a second) is shown as it can be read on a projector: up to
ROWS_PER_READ requests of each read one by one, the rest counted in one summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sse_starlette import ServerSentEvent

from webapp.pseudonyms import Pseudonyms
from webapp.requestlog import RequestLog

READ_EVERY_SECONDS = 0.2
RING_SIZE = 1000  # items a worker keeps for its pages: what a slow or reconnecting page can still get
ROWS_PER_READ = 20  # requests per read shown one by one (up to 100 a second); the rest are counted
ROWS_PER_ADDRESS = 5  # of them, from one address at most
# Lines of one read looked at one by one (10,000 a second, far above a class); a benchmark's flood past them is
# counted in bulk, so that reading nginx's log never takes the CPU nginx needs to serve it.
MAX_SCANNED_LINES = 2000
MAX_LINE_BYTES = 16 * 1024  # a longer "line" is not nginx's (its paths are cut to 200 characters)
MAX_READ_BYTES = 4 * 1024 * 1024  # read per go at most: a huge backlog is counted over several reads
SHOWN_PATH_LENGTH = 120
CUT = "…"
STATE_READ_SECONDS = 0.5
SERVED_BY = re.compile(r"uvicorn pid (\d{1,10})\Z")
# Control characters, line separators, and lone surrogates (JSON may carry "\ud800", which no UTF-8 can send).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
FILE_STATUSES = frozenset({200, 206, 304})
CACHED = frozenset({"HIT", "STALE", "UPDATING"})
NGINX_LOG = Path("nginx") / "access.log"
STACK_STATE = "stack.json"
ROTATED_SUFFIX = ".1"

# How a request was answered.
FILE, CACHE, NGINX, WORKER = "file", "cache", "nginx", "worker"


class Answer(NamedTuple):
    """One request as its answerer logged it. `address` never leaves the server."""

    id: str
    at: int  # ms since the epoch, when the answer was done
    method: str
    path: str
    status: int
    ms: float
    bytes: int
    how: str
    worker: int | None
    pid: int | None
    cache: str
    who: int | None
    address: str

    @property
    def by(self) -> str:
        return WORKER if self.how == WORKER else NGINX

    @property
    def public_path(self) -> bool:
        """Whether everyone may see the path: only an address the site has (a stranger's 404 may be their name)."""
        return 200 <= self.status < 400

    def facts(self, *, mine: bool) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path if mine or self.public_path else None,
            "status": self.status,
            "ms": self.ms,
            "bytes": self.bytes,
            "by": self.by,
            "how": self.how,
            "worker": self.worker,
            "pid": self.pid,
            "cache": self.cache,
            "who": self.who,
            "mine": mine,
        }


@dataclass
class Item:
    """One thing a page is told: a request (`answer`), or an event named `kind` with `data`."""

    seq: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    answer: Answer | None = None
    _public: str | None = None
    _sent: bytes | None = None  # as every page but its own visitor's is sent it
    _sent_to_its_visitor: bytes | None = None

    def encoded_for(self, viewer: str) -> bytes:
        """The event as sent to `viewer`'s page, made once per worker, however many pages are open: a hundred
        pages cost a worker one encoding of each event, not a hundred."""
        if self.answer is not None and viewer and viewer == self.answer.address:
            if self._sent_to_its_visitor is None:
                self._sent_to_its_visitor = self._encoded(viewer)
            return self._sent_to_its_visitor
        if self._sent is None:
            self._sent = self._encoded("")
        return self._sent

    def _encoded(self, viewer: str) -> bytes:
        event_id = self.answer.id if self.answer is not None else None
        return ServerSentEvent(data=self.json_for(viewer), event=self.kind, id=event_id).encode()

    def json_for(self, viewer: str) -> str:
        if self.answer is None:
            if self._public is None:
                self._public = json.dumps(self.data, ensure_ascii=False)
            return self._public
        if viewer and viewer == self.answer.address:
            return json.dumps(self.answer.facts(mine=True), ensure_ascii=False)
        if self._public is None:  # the same text for every other page: made once
            self._public = json.dumps(self.answer.facts(mine=False), ensure_ascii=False)
        return self._public


class Counts:
    """Requests a read did not show one by one (a flood), counted for one summary item."""

    def __init__(self) -> None:
        self.static = 0
        self.dynamic = 0
        self.workers: dict[int, int] = {}
        self.unreadable = 0

    def add(self, answer: Answer) -> None:
        if answer.how == WORKER:
            self.dynamic += 1
            if answer.worker is not None:
                self.workers[answer.worker] = self.workers.get(answer.worker, 0) + 1
        else:
            self.static += 1

    def __bool__(self) -> bool:
        return bool(self.static or self.dynamic or self.unreadable)

    def facts(self, at: int) -> dict[str, Any]:
        return {
            "at": at,
            "static": self.static,
            "dynamic": self.dynamic,
            "workers": {str(number): count for number, count in sorted(self.workers.items())},
            "unreadable": self.unreadable,
        }


@dataclass
class Read:
    """What one read of a source found: requests, and other events (a worker, the log)."""

    answers: list[Answer] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)


def shown(text: str, limit: int = SHOWN_PATH_LENGTH) -> str:
    """A path as the page may show it: no query string, control characters written out, cut short."""
    text = text.partition("?")[0]
    text = CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= limit else text[:limit] + CUT


def make_id(source: str, number: int, at: int) -> str:
    """A request's id: which filling of the log (or which process), where in it, and when (for what the page
    missed). The same request has the same id on every worker: they read the same log."""
    return f"{source}-{number}-{at}"


def parse_id(text: str) -> tuple[str, int, int] | None:
    source, _, rest = text.partition("-")
    number, _, at = rest.partition("-")
    if not (number.isdigit() and at.isdigit()):
        return None
    return source, int(number), int(at)


def now_ms() -> int:
    return round(time.time() * 1000)


class WorkerMap:
    """The stack's workers as its stack.json says: number by port, and their deaths and returns since."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.workers: list[dict[str, Any]] = []
        self.by_port: dict[str, int] = {}
        self.own_addresses: frozenset[str] = frozenset()
        self.student_urls: list[str] = []
        self._seen_events = 0
        self.events: list[dict[str, Any]] = []  # the deaths and returns stack.json keeps (the last few)
        self._stamp: tuple[int, int] | None = None
        self._read_at = 0.0

    def refresh(self, *, first: bool = False) -> list[dict[str, Any]]:
        """Read stack.json again if it changed; return the worker events it added since the last read."""
        now = time.monotonic()
        if not first and now - self._read_at < STATE_READ_SECONDS:
            return []
        self._read_at = now
        try:
            status = self.state_file.stat()
            stamp = (status.st_ino, status.st_mtime_ns)
            if stamp == self._stamp:
                return []
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        self._stamp = stamp
        workers = [w for w in state.get("workers", []) if isinstance(w, dict)]
        self.workers = [
            {"number": w.get("number"), "pid": w.get("pid"), "alive": bool(w.get("alive", True))} for w in workers
        ]
        self.by_port = {str(w.get("port")): int(w.get("number", 0)) for w in workers}
        self.own_addresses = frozenset(str(address) for address in state.get("own_addresses", []))
        self.student_urls = [str(url) for url in state.get("student_urls", [])]
        events = [event for event in state.get("worker_events", []) if isinstance(event, dict)]
        self.events = events
        if first:
            self._seen_events = len(events)
            return []
        # The stack keeps the last few: count from the newest one already seen.
        new = events[self._seen_events :] if len(events) >= self._seen_events else events
        self._seen_events = len(events)
        return new


class NginxLog:
    """nginx's access log, read as it grows; a log emptied (the stack keeps it small), deleted or made again
    is said as such, and reading carries on."""

    def __init__(self, run_dir: Path, pseudonyms: Pseudonyms) -> None:
        self.path = run_dir / NGINX_LOG
        self.workers = WorkerMap(run_dir / STACK_STATE)
        self.pseudonyms = pseudonyms
        self.position = 0
        self.generation = ""  # the time of the log's first line: tells one filling of the file from the next
        self.missing = False
        self.inode: int | None = None
        self._partial = b""

    def start(self) -> None:
        """Begin at the log's end: what came before this process started is not this feed's."""
        self.workers.refresh(first=True)
        self.pseudonyms.own_addresses = self.workers.own_addresses or self.pseudonyms.own_addresses
        try:
            status = self.path.stat()
            self.position, self.inode = status.st_size, status.st_ino
            self.generation = self._first_line_time(self.path)
        except OSError:
            self.position = 0
            self.missing = True

    def read(self, budget: int = ROWS_PER_READ) -> Read:
        read = Read()
        for event in self.workers.refresh():
            read.events.append(("worker", event))
        if self.workers.own_addresses:
            self.pseudonyms.own_addresses = self.workers.own_addresses
        try:
            with open(self.path, "rb") as log:
                status = os.fstat(log.fileno())
                size = status.st_size
                if self.missing:
                    self.missing = False
                    read.events.append(("log", {"what": "back", "at": now_ms()}))
                    self.position, self._partial, self.generation = 0, b"", ""
                elif self._started_again(status.st_ino, size):
                    read.events.append(("log", {"what": "restarted", "at": now_ms()}))
                    self.position, self._partial, self.generation = 0, b"", ""
                self.inode = status.st_ino
                if not self.generation:
                    self.generation = self._first_line_time(self.path)
                log.seek(self.position)
                data = log.read(min(size - self.position, MAX_READ_BYTES))
        except FileNotFoundError:
            if not self.missing:
                self.missing = True
                read.events.append(("log", {"what": "missing", "at": now_ms()}))
            return read
        except OSError:
            return read
        start = self.position - len(self._partial)
        self.position += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # what follows the last newline: a line nginx has not finished writing
        if len(self._partial) > MAX_LINE_BYTES:
            read.counts.unreadable += 1
            self._partial = b""
        offset = start
        rows: dict[bytes, int] = {}  # rows shown per address in this read
        if len(lines) > MAX_SCANNED_LINES:  # a flood: what is past the first lines is counted all at once
            self._count_all(lines[MAX_SCANNED_LINES:], read.counts)
            lines = lines[:MAX_SCANNED_LINES]
        for line in lines:
            offset += len(line) + 1
            if not line:
                continue
            # One address's flood (a benchmark, a reloading student) takes ROWS_PER_ADDRESS rows of a read: the
            # others' requests still show one by one, within the same second.
            address = _address_in(line)
            if len(read.answers) >= budget or rows.get(address, 0) >= ROWS_PER_ADDRESS:
                self._count(line, read.counts)
                continue
            answer = self._answer(line, offset)
            if answer is None:
                read.counts.unreadable += 1
            else:
                rows[address] = rows.get(address, 0) + 1
                read.answers.append(answer)
        return read

    def _started_again(self, inode: int, size: int) -> bool:
        """Whether the log is not the one read so far: emptied in place (the stack copies it aside first),
        replaced by another file, or emptied and filled again past this reader's place between two reads."""
        if size < self.position or (self.inode is not None and inode != self.inode):
            return True
        return bool(self.generation) and self._first_line_time(self.path) != self.generation

    def _count_all(self, lines: list[bytes], counts: Counts) -> None:
        """Lines of a flood, counted by who answered them from their bytes in one go (no line by line work)."""
        chunk = b"\n".join(lines)
        every = len(lines) - lines.count(b"")
        # A copy from nginx's cache names no worker: nginx answered it.
        by_workers = chunk.count(b'"worker":"') - chunk.count(b'"worker":""')
        counts.dynamic += max(0, by_workers)
        counts.static += max(0, every - by_workers)
        for port, number in self.workers.by_port.items():
            if found := chunk.count(b'"worker":"127.0.0.1:' + port.encode() + b'"'):
                counts.workers[number] = counts.workers.get(number, 0) + found

    def _count(self, line: bytes, counts: Counts) -> None:
        """A request past the budget: counted by who answered it, from the line's bytes alone (no parsing)."""
        marker = line.find(b'"worker":"')
        if marker < 0 or len(line) > MAX_LINE_BYTES:
            counts.unreadable += 1
            return
        value = line[marker + 10 : line.find(b'"', marker + 10)]
        if not value or b'"cache":"HIT"' in line:
            counts.static += 1
            return
        counts.dynamic += 1
        number = self.workers.by_port.get(value.rpartition(b":")[2].decode("ascii", "replace"))
        if number is not None:
            counts.workers[number] = counts.workers.get(number, 0) + 1

    def _answer(self, line: bytes, offset: int) -> Answer | None:
        if len(line) > MAX_LINE_BYTES:
            return None
        try:
            entry = json.loads(line.decode("utf-8", errors="replace"))
            if not isinstance(entry, dict):
                return None
            status = int(entry["status"])
            if not 100 <= status <= 999:
                return None
            seconds = float(entry.get("seconds", 0))
            if not math.isfinite(seconds):  # JSON may say NaN or Infinity; the page's JSON cannot
                return None
            size = int(entry.get("bytes", 0))
            msec = float(entry.get("msec", 0))
            at = int(msec * 1000) if math.isfinite(msec) and msec > 0 else now_ms()
            method = shown(str(entry.get("method", "")), 16)
            path = shown(str(entry.get("path", "")))
            address = str(entry.get("address", ""))[:64]
            upstream = str(entry.get("worker", ""))
            cache = shown(str(entry.get("cache", "")), 16)
            served_by = SERVED_BY.match(str(entry.get("served_by", "")))
        except (ValueError, TypeError, KeyError, OverflowError):
            return None
        port = upstream.rpartition(",")[2].strip().rpartition(":")[2]  # a retried request names each worker
        worker = self.workers.by_port.get(port) if upstream else None
        if cache in CACHED:
            how = CACHE
        elif upstream and served_by:
            how = WORKER
        elif not upstream and path.startswith("/static/") and status in FILE_STATUSES:
            how = FILE
        else:
            how = NGINX  # its own redirect, error page or refusal; or a worker that did not answer (502)
        return Answer(
            id=make_id(self.generation, offset, at),
            at=at,
            method=method,
            path=path,
            status=status,
            ms=round(seconds * 1000, 1),
            bytes=max(size, 0),
            how=how,
            worker=worker if how == WORKER else None,
            pid=int(served_by.group(1)) if served_by and how == WORKER else None,
            cache=cache,
            who=self.pseudonyms.number(address),
            address=address,
        )

    def missed_since(self, last_id: str, oldest: Answer | None) -> int | None:
        """How many lines came after the one `last_id` names and before `oldest` (the ring's first request, which
        the page gets); None if the log no longer has that line (emptied twice since)."""
        last, first = parse_id(last_id), parse_id(oldest.id) if oldest is not None else None
        if last is None:
            return None
        generation, offset, _at = last
        # Up to the ring's first request (which is sent, so not missed), or up to where this feed began.
        end, sent = (first[1], 1) if first is not None and first[0] == self.generation else (self.position, 0)
        if generation == self.generation:
            between = _lines_between(self.path, offset, end)
            return None if between is None else max(0, between - sent)
        rotated = self.path.with_name(self.path.name + ROTATED_SUFFIX)
        if generation and self._first_line_time(rotated) == generation:
            before, now = _lines_between(rotated, offset, None), _lines_between(self.path, 0, end)
            return None if before is None or now is None else max(0, before + now - sent)
        return None

    @staticmethod
    def _first_line_time(path: Path) -> str:
        try:
            with open(path, "rb") as log:
                first = log.readline(MAX_LINE_BYTES)
        except OSError:
            return ""
        match = re.search(rb'"msec":([0-9.]{1,20})', first)
        return match.group(1).decode() if match else ""


def _address_in(line: bytes) -> bytes:
    """The address field of a log line, from its bytes (cheaper than parsing the line, for every line of a flood)."""
    start = line.find(b'"address":"')
    if start < 0:
        return b""
    start += len(b'"address":"')
    return line[start : line.find(b'"', start, start + 64)]


def _lines_between(path: Path, start: int, end: int | None) -> int | None:
    try:
        with open(path, "rb") as log:
            log.seek(start)
            data = log.read(max(0, (end if end is not None else os.fstat(log.fileno()).st_size) - start))
    except OSError:
        return None
    return data.count(b"\n")


class AppLog:
    """A uvicorn alone: its own request log. Everything in it was answered by this process, the WAS."""

    def __init__(self, log: RequestLog, pid: int, pseudonyms: Pseudonyms) -> None:
        self.log = log
        self.pid = pid
        self.pseudonyms = pseudonyms
        self.seen = 0

    def start(self) -> None:
        self.seen = self.log.added

    def read(self, budget: int = ROWS_PER_READ) -> Read:
        read = Read()
        entries = self.log.newer_than(self.seen)
        missed = self.log.added - self.seen - len(entries)
        self.seen = self.log.added
        if missed > 0:
            read.counts.dynamic += missed  # requests the log had no room to keep: all this process's
        for position, entry in enumerate(entries):
            at = round((entry.started_at + entry.duration) * 1000)
            answer = Answer(
                id=make_id(f"app{self.pid}", self.seen - len(entries) + position + 1, at),
                at=at,
                method=shown(entry.method, 16),
                path=shown(entry.path),
                status=entry.status,
                ms=round(entry.duration * 1000, 1),
                bytes=entry.bytes,
                how=WORKER,
                worker=None,
                pid=self.pid,
                cache="",
                who=self.pseudonyms.number(entry.visitor),
                address=entry.visitor,
            )
            if len(read.answers) < budget:
                read.answers.append(answer)
            else:
                read.counts.add(answer)
        return read

    def missed_since(self, last_id: str, oldest: Answer | None) -> int | None:
        last, first = parse_id(last_id), parse_id(oldest.id) if oldest is not None else None
        if last is None or last[0] != f"app{self.pid}":
            return None  # another process (before a reload): what it answered since is not known here
        return max(0, (first[1] if first is not None else self.seen + 1) - last[1] - 1)


class Feed:
    """One reader per process, for all its open pages: reads the source while any page is open."""

    def __init__(self, source: NginxLog | AppLog, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.ring: deque[Item] = deque(maxlen=RING_SIZE)
        self.seq = 0  # items added since the process started
        self.pages = 0
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._clock = clock

    @property
    def nginx(self) -> bool:
        return isinstance(self.source, NginxLog)

    def open_page(self) -> None:
        self.pages += 1
        if self._task is None or self._task.done():
            # Read again from the source's end: what the ring holds is from before a gap it did not read, so
            # a page that comes back is counted what it missed instead of being resumed across the gap.
            self.ring.clear()
            self.source.start()
            self._task = asyncio.get_running_loop().create_task(self._read_while_watched())

    def close_page(self) -> None:
        self.pages -= 1

    async def wait(self, after: int, timeout: float) -> None:
        """Return once an item past `after` exists, or after `timeout` seconds."""
        if self.seq > after:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new.wait(), timeout)

    def since(self, after: int) -> tuple[int, list[Item]]:
        """The items after number `after` the ring still has, and how many it no longer has."""
        oldest = self.seq - len(self.ring)
        missed = max(0, oldest - after)
        items = list(self.ring)[max(0, after - oldest) :] if self.seq > after else []
        return missed, items

    def position_of(self, item_id: str) -> int | None:
        """The number of the request item with this id, if the ring still has it."""
        for item in reversed(self.ring):
            if item.answer is not None and item.answer.id == item_id:
                return item.seq
        return None

    def oldest_answer(self) -> Answer | None:
        return next((item.answer for item in self.ring if item.answer is not None), None)

    def recent_requests(self, count: int) -> int:
        """The item number to start after so that a new page gets the last `count` requests first."""
        seen = 0
        for item in reversed(self.ring):
            if item.answer is not None:
                seen += 1
                if seen == count:
                    return item.seq - 1
        return self.seq - len(self.ring)

    def add(self, read: Read) -> None:
        for kind, data in read.events:
            self._append(kind, data=data)
        for answer in read.answers:
            self._append("request", answer=answer)
        if read.counts:
            self._append("summary", data=read.counts.facts(now_ms()))
        if read.events or read.answers or read.counts:
            self._new.set()
            self._new = asyncio.Event()

    def _append(self, kind: str, *, data: dict[str, Any] | None = None, answer: Answer | None = None) -> None:
        self.seq += 1
        self.ring.append(Item(self.seq, kind, data or {}, answer))

    async def _read_while_watched(self) -> None:
        while self.pages > 0:
            self.add(self.source.read())
            await asyncio.sleep(READ_EVERY_SECONDS)
