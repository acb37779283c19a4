"""/live under a hostile client, through the real stack (`python -m tools.stack`: nginx and two uvicorn workers).

Hundreds of streams from other loopback addresses (127.0.0.x, a visitor each), some never reading; forged and
hostile lines in nginx's access log; the log rotated, emptied and deleted under its reader; a page that comes
back after a while away; the stack stopped with streams open. All traffic stays on loopback. One stack serves
the whole file; the last test stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.support import RunningStack, run_stack, wait_for
from tools.processes import STOP_SECONDS
from tools.runfolder import keep_small
from tools.stack import CLIENT_LIMITS
from webapp.live import STREAMS_PER_WORKER
from webapp.livefeed import CUT, SHOWN_PATH_LENGTH

HOST = "127.0.0.1"
T = TypeVar("T")
ANSWER_SECONDS = 5.0  # for a stream's head, or one event to arrive (nginx writes its log every 250 ms)
PROMPT_SECONDS = 3.0  # for /ping or a static file while hundreds of streams are open (milliseconds when idle)
PER_ADDRESS = CLIENT_LIMITS["live_streams"]  # open /live pages nginx lets one address have (the stack's default)
# A worker keeps one ring of events for all its pages (livefeed.RING_SIZE items) and, per page, its place in
# it and the connection: asyncio's write buffer stops at 64 KiB, then the send waits (and a page that reads
# nothing for 10 s is dropped). 150 pages times (64 KiB + the connection's objects) is about 15 MiB; measured,
# about 8 MiB. A copy of every event per page that does not read would grow without end.
RSS_GROWTH_BOUND_KIB = 32 * 1024


def student(number: int) -> str:
    """The loopback address of visitor `number` (1 → 127.0.0.2): another device, as nginx sees it."""
    return f"127.0.0.{number + 1}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_stack(tmp_path_factory.mktemp("live-abuse")) as running:
        yield running


def http_port(stack: RunningStack) -> int:
    return int(stack.url.rsplit(":", 1)[1])


def access_log(stack: RunningStack) -> Path:
    return stack.run_dir / "nginx" / "access.log"


def rss_kib(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    assert match, f"no VmRSS for pid {pid}"
    return int(match.group(1))


def enough_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        reason = f"this system lets a process open {hard} files; the test needs {needed} (ulimit -Hn)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON: a browser's JSON.parse throws on it")


@dataclass
class Event:
    name: str
    data: str
    id: str | None

    def facts(self) -> dict[str, Any]:
        """The data as a browser's JSON.parse reads it: no NaN or Infinity."""
        facts: dict[str, Any] = json.loads(self.data, parse_constant=refuse_constant)
        return facts


@dataclass
class Stream:
    """One GET /live/events on a raw socket from `source`, read as a browser's EventSource reads it."""

    port: int
    source: str = HOST
    last_event_id: str | None = None
    language: str = "en"
    small_window: bool = False  # a tiny receive buffer: a client that will not read fills it at once
    sock: socket.socket = field(init=False)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""  # everything after the head, exactly as sent (chunked)
    events: list[Event] = field(default_factory=list)
    ended: bool = False
    replayed: int = 0  # events up to the last replayed request
    _pending: bytes = b""
    _body: bytes = b""

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        try:
            if self.small_window:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.sock.bind((self.source, 0))
            self.sock.settimeout(ANSWER_SECONDS)
            self.sock.connect((HOST, self.port))
            resume = f"Last-Event-ID: {self.last_event_id}\r\n" if self.last_event_id else ""
            request = (
                f"GET /live/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                f"Accept-Language: {self.language}\r\n{resume}\r\n"
            )
            self.sock.sendall(request.encode())
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def read_head(self, seconds: float = ANSWER_SECONDS) -> int:
        deadline = time.monotonic() + seconds
        while b"\r\n\r\n" not in self._pending:
            if not self._receive(deadline - time.monotonic()):
                raise AssertionError(f"no answer from {self.source} within {seconds} s: {self._pending!r}")
        head, _, rest = self._pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        self.headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        self._pending = b""
        self._take(rest)
        return self.status

    def body_json(self, seconds: float = ANSWER_SECONDS) -> dict[str, Any]:
        """The whole body of a refusal (Content-Length: not a stream), as JSON."""
        length = int(self.headers["content-length"])
        deadline = time.monotonic() + seconds
        while len(self.raw) < length and self._receive(deadline - time.monotonic()):
            pass
        answer: dict[str, Any] = json.loads(self.raw[:length])
        return answer

    def wait_for(self, check: Callable[[list[Event]], T | None], what: str, seconds: float = ANSWER_SECONDS) -> T:
        deadline = time.monotonic() + seconds
        while True:
            found = check(self.events)
            if found:
                return found
            if self.ended:
                raise AssertionError(f"the stream ended while waiting for {what}; it sent:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {seconds} s waiting for {what}; the stream sent:\n{self.text()}")
            self._receive(min(0.2, max(0.01, deadline - time.monotonic())))

    def hello(self) -> dict[str, Any]:
        """Open the stream: its hello, then the earlier requests it replays (`history`) have come."""
        assert self.read_head() == 200, self.text()
        hello = self.wait_for(lambda events: events[0].facts() if events else None, "the hello event")
        self.wait_for(lambda _events: len(self.requests()) >= hello["history"], "the replayed requests")
        self.replayed = len(self.events)
        return hello

    def wait_for_end(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.ended:
            assert time.monotonic() < deadline, f"the stream did not end within {seconds} s:\n{self.text()}"
            self._receive(min(0.2, max(0.01, deadline - time.monotonic())))

    def new_events(self) -> list[Event]:
        """What came after the hello and its replayed requests."""
        return self.events[self.replayed :]

    def requests(self) -> list[dict[str, Any]]:
        return [event.facts() for event in self.events if event.name == "request"]

    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")[-3000:]

    def _receive(self, seconds: float) -> bool:
        """Read what has come within `seconds`; False if nothing came (or the stream ended)."""
        if self.ended or seconds <= 0:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.ended = True
            return False
        if self.status:
            self._take(chunk)
        else:
            self._pending += chunk
        return True

    def _take(self, data: bytes) -> None:
        self.raw += data
        if "chunked" not in self.headers.get("transfer-encoding", ""):
            return
        self._pending += data
        while (line_end := self._pending.find(b"\r\n")) >= 0:
            size = int(self._pending[:line_end].split(b";")[0], 16)
            if size == 0:
                self.ended = True
                break
            if len(self._pending) < line_end + 2 + size + 2:
                break
            self._body += self._pending[line_end + 2 : line_end + 2 + size]
            self._pending = self._pending[line_end + 4 + size :]
        self._parse_events()

    def _parse_events(self) -> None:
        """Whole events (a blank line ends each): UTF-8, as EventSource decodes them."""
        text = self._body.replace(b"\r\n", b"\n")
        *whole, rest = text.split(b"\n\n")
        for block in whole:
            fields: dict[str, str] = {}
            for line in block.decode("utf-8").split("\n"):
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
            if "data" in fields:
                self.events.append(Event(fields.get("event", "message"), fields["data"], fields.get("id")))
        self._body = rest


def get(stack: RunningStack, path: str, *, seconds: float = PROMPT_SECONDS) -> httpx.Response:
    return httpx.get(f"{stack.url}{path}", timeout=seconds)


def arrived(path: str) -> Callable[[list[Event]], dict[str, Any] | None]:
    def check(events: list[Event]) -> dict[str, Any] | None:
        return next((e.facts() for e in events if e.name == "request" and e.facts()["path"] == path), None)

    return check


def quiet_log(stack: RunningStack, *, still_seconds: float = 0.6) -> None:
    """Wait until nginx's log stops growing. A stream's line is written when nginx sees it close, and nginx writes
    its buffer every 250 ms: the streams an earlier test closed must not land in this test's reads (a read shows
    20 requests one by one and counts the rest)."""
    seen = {"size": -1, "since": time.monotonic()}

    def still() -> bool:
        size = access_log(stack).stat().st_size
        if size != seen["size"]:
            seen.update(size=size, since=time.monotonic())
        return time.monotonic() - seen["since"] >= still_seconds

    wait_for(still, seconds=10, what="nginx's log to stop growing")


def logged(stack: RunningStack, text: str, count: int = 1) -> bool:
    try:
        return access_log(stack).read_text(errors="replace").count(text) >= count
    except FileNotFoundError:
        return False


# 1. Hundreds of streams.

SILENT_ADDRESSES = 10  # each opens PER_ADDRESS streams and never reads a byte while the test runs
GREEDY_ADDRESSES = 46  # each asks for one stream more than nginx lets an address have


def test_hundreds_of_streams_meet_the_caps_while_the_site_keeps_answering(stack: RunningStack) -> None:
    attempts = SILENT_ADDRESSES * PER_ADDRESS + GREEDY_ADDRESSES * (PER_ADDRESS + 1)  # 382: 300 fit, 150 a worker
    assert attempts > 2 * STREAMS_PER_WORKER
    enough_files(attempts + 200)
    port = http_port(stack)
    pids = sorted(stack.worker_pids())
    idle_rss = {pid: rss_kib(pid) for pid in pids}
    silent: list[Stream] = []
    greedy: list[Stream] = []
    opened = 0
    try:
        for number in range(1, SILENT_ADDRESSES + 1):
            for _ in range(PER_ADDRESS):
                silent.append(Stream(port, student(number), small_window=True))
                opened += 1
        for number in range(SILENT_ADDRESSES + 1, SILENT_ADDRESSES + GREEDY_ADDRESSES + 1):
            for _ in range(PER_ADDRESS + 1):
                greedy.append(Stream(port, student(number), language="ko" if number % 2 else "en"))
                opened += 1
        for stream in greedy:
            stream.read_head()

        # The site keeps answering the instructor's machine meanwhile (and each answer is an event for 300 pages).
        for _ in range(20):
            for path in ("/ping", "/static/style.css"):
                started = time.monotonic()
                assert get(stack, path).status_code == 200, path
                assert time.monotonic() - started < PROMPT_SECONDS, f"{path} took longer than {PROMPT_SECONDS} s"
        time.sleep(1)  # the workers send the last of those events to every page
        grown = {pid: rss_kib(pid) - idle_rss[pid] for pid in pids}

        for stream in silent:  # now, after the test, what the silent ones were sent
            stream.read_head()
        streams = silent + greedy
        by_status = Counter(stream.status for stream in streams)
        assert set(by_status) <= {200, 429, 503}, by_status
        assert sum(by_status.values()) == attempts

        # nginx: at most PER_ADDRESS per address, then 429, JSON, a sentence in both languages, Retry-After.
        open_per_address = Counter(stream.source for stream in streams if stream.status == 200)
        assert max(open_per_address.values()) <= PER_ADDRESS, open_per_address
        too_many = [stream for stream in greedy if stream.status == 429]
        assert too_many, by_status
        for stream in too_many[:5]:
            assert int(stream.headers["retry-after"]) > 0
            assert stream.headers["content-type"].startswith("application/json")
            detail = stream.body_json()["detail"]
            assert "Too many live pages" in detail and re.search("[가-힣]", detail), detail

        # A worker: at most STREAMS_PER_WORKER, then 503, JSON, a sentence in the page's language, Retry-After.
        open_per_worker = Counter(stream.headers.get("x-served-by") for stream in streams if stream.status == 200)
        busy = [stream for stream in streams if stream.status == 503]
        assert busy, f"{attempts} streams and no worker said it had too many: {by_status}"
        for stream in busy:
            assert open_per_worker[stream.headers["x-served-by"]] == STREAMS_PER_WORKER, open_per_worker
        assert max(open_per_worker.values()) <= STREAMS_PER_WORKER, open_per_worker
        for stream in busy[:6]:
            assert int(stream.headers["retry-after"]) > 0
            assert stream.headers["content-type"].startswith("application/json")
            detail = stream.body_json()["detail"]
            korean = stream.language == "ko"
            assert bool(re.search("[가-힣]", detail)) == korean and ("Try again" in detail) != korean, detail

        # Memory: bounded, however many events the pages that do not read were sent.
        for pid, kib in grown.items():
            assert kib < RSS_GROWTH_BOUND_KIB, f"worker {pid} grew by {kib} KiB with {open_per_worker} streams"
    finally:
        closed = 0
        for stream in silent + greedy:
            stream.close()
            closed += 1
        assert closed == opened

    # The caps are free again: an address that was at its cap opens all it may.
    def all_open_again() -> bool:
        again = [Stream(port, student(SILENT_ADDRESSES + 1)) for _ in range(PER_ADDRESS)]
        try:
            return all(stream.read_head() == 200 for stream in again)
        finally:
            for stream in again:
                stream.close()

    wait_for(all_open_again, seconds=10, what="the caps to be free once the clients closed", interval=0.5)


# 2. Forged and hostile lines in nginx's log.

FORGER = "127.0.0.77"
READER_STOPS_SECONDS = 0.5  # a worker reads the log every 0.2 s while a page watches, and stops after
NAME = "김철수"


def forged_line(path: str, **fields: Any) -> bytes:
    """A line in the stack's log_format (site.conf.j2), as if nginx had answered FORGER."""
    entry = {
        "time": "2027-01-15T10:00:00+09:00", "address": FORGER, "method": "GET", "path": path, "status": 200,
        "bytes": 1234, "seconds": 0.001, "worker": "", "cache": "", "msec": time.time(), "served_by": "",
    }  # fmt: skip
    entry.update(fields)
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def append_to_log(stack: RunningStack, *lines: bytes) -> None:
    with open(access_log(stack), "ab") as log:  # one write, in append mode as nginx writes: whole lines
        log.write(b"".join(lines))


def assert_nothing_private(stream: Stream) -> None:
    raw = stream.raw
    for private in (NAME.encode(), NAME.encode("unicode_escape"), b"name=", b"127.0.0."):
        assert private not in raw, f"{private!r} reached the page:\n{stream.text()}"
    for event in stream.events:
        assert not re.search(r"[\x00-\x1f]", event.data), event.data
        event.facts()  # every data is JSON a browser can parse


def test_forged_and_hostile_log_lines_are_shown_escaped_and_cut_and_never_break_the_stream(
    stack: RunningStack,
) -> None:
    percent_escapes = "/static/" + "%2e" * 2730  # 8 KB
    quiet_log(stack)
    page = Stream(http_port(stack))
    try:
        page.hello()
        append_to_log(
            stack,
            forged_line('/static/it\'s "quoted".css'),
            forged_line("/static/new_LINE_here.css").replace(b"_LINE_", b"\\u000a"),
            forged_line(percent_escapes),
            forged_line("/static/_BYTES_.css").replace(b"_BYTES_", b"\xff\xfe\xc3("),
            forged_line(f"/dynamic?name={NAME}"),
            b"GET / HTTP/1.1 200 this line is not JSON\n",
            forged_line("/static/" + "x" * 20_000),
        )
        assert get(stack, "/static/after-the-forged-lines.css").status_code == 404
        page.wait_for(arrived("/static/after-the-forged-lines.css"), "a real request after the forged lines")
        requests = [event.facts() for event in page.new_events() if event.name == "request"]
        forger = next(facts["who"] for facts in requests if facts["path"] == '/static/it\'s "quoted".css')
        assert forger not in (None, 0)  # a student's number, never the address
        forged = [facts for facts in requests if facts["who"] == forger]
        shown = [facts["path"] for facts in forged]
        assert shown[:5] == [
            '/static/it\'s "quoted".css',
            "/static/new\\x0ahere.css",
            percent_escapes[:SHOWN_PATH_LENGTH] + CUT,
            "/static/\ufffd\ufffd\ufffd(.css",
            "/dynamic",
        ], shown
        assert len(forged) == 5, shown  # the line that is not JSON and the 20 KB one are not requests
        unreadable = sum(event.facts()["unreadable"] for event in page.new_events() if event.name == "summary")
        assert unreadable == 2, page.text()  # ... but counted, so the page can say so
        assert not page.ended
        assert_nothing_private(page)
    finally:
        page.close()


def test_a_forged_line_a_page_cannot_read_never_breaks_the_stream(stack: RunningStack) -> None:
    """JSON as Python reads it takes NaN, Infinity and a lone surrogate (\\ud800): UTF-8 cannot carry the
    surrogate, and a browser's JSON.parse throws on NaN. The stream goes on, and sends only JSON it can read."""
    worker = stack.state["workers"][0]
    quiet_log(stack)
    page = Stream(worker["port"])  # straight to worker 1, so that the test knows whose feed read the lines
    try:
        page.hello()
        time.sleep(READER_STOPS_SECONDS)  # the other worker's reader, if a page of an earlier test kept it going
        append_to_log(
            stack,
            forged_line("/static/_SURROGATE_.css").replace(b"_SURROGATE_", b"\\ud800"),
            forged_line("/static/cached.css", cache="_SURROGATE_").replace(b"_SURROGATE_", b"\\udfff"),
            forged_line("/static/nan.css").replace(b'"seconds":0.001', b'"seconds":NaN'),
            forged_line("/static/infinite.css").replace(b'"seconds":0.001', b'"seconds":Infinity'),
        )
        assert get(stack, "/static/after-the-unreadable-lines.css").status_code == 404
        page.wait_for(arrived("/static/after-the-unreadable-lines.css"), "a real request after the forged lines")
        assert_nothing_private(page)
    finally:
        page.close()
        if page.ended:  # the forged line broke this worker's streams: a new worker, so later tests start clean
            os.kill(worker["pid"], signal.SIGKILL)
            wait_for(
                lambda: worker["pid"] not in stack.worker_pids() and get(stack, "/ping").status_code == 200,
                seconds=15,
                what="the stack to replace worker 1",
            )


# 3. The log pulled from under its reader.

RELOAD_ATTEMPTS = 10  # a request every 0.5 s until one reaches the log nginx opened again


def test_the_log_rotated_emptied_and_deleted_under_the_reader_is_said_and_the_stream_goes_on(
    stack: RunningStack,
) -> None:
    log = access_log(stack)
    quiet_log(stack)
    page = Stream(http_port(stack))

    def said(what: str, after: int) -> Callable[[list[Event]], bool]:
        return lambda events: any(e.name == "log" and e.facts()["what"] == what for e in events[after:])

    def request_arrives(name: str) -> None:
        assert get(stack, f"/static/{name}.css").status_code == 404
        page.wait_for(arrived(f"/static/{name}.css"), f"a request after the log was {name}")

    try:
        page.hello()
        request_arrives("before")  # the reader has read something: an emptied log is shorter than its place

        mark = len(page.events)
        assert keep_small([log], 0) == [log]  # the stack's own way: copied to access.log.1, then emptied
        page.wait_for(said("restarted", mark), "the page to be told the log was rotated")
        request_arrives("rotated")

        mark = len(page.events)
        os.truncate(log, 0)
        page.wait_for(said("restarted", mark), "the page to be told the log was emptied")
        request_arrives("truncated")

        mark = len(page.events)
        log.unlink()
        # nginx would write on into the deleted file: the stack sees it gone (every 2 s) and reloads nginx, which
        # opens a new one. The page is told it was gone and is back, or, if the new file came before the reader
        # looked, that the log is a new file.
        page.wait_for(
            lambda events: said("missing", mark)(events) or said("restarted", mark)(events),
            "the page to be told the log is gone",
        )
        if said("missing", mark)(page.events):
            page.wait_for(said("back", mark), "the page to be told the log is back")
        wait_for(lambda: "access.log was deleted" in stack.output(), seconds=10, what="the stack to say so")
        # nginx's old processes serve on for a moment after a reload, writing to the deleted file: a request
        # reaches the new log within a second or two.
        for attempt in range(RELOAD_ATTEMPTS):
            assert get(stack, f"/static/deleted-{attempt}.css").status_code == 404
            with contextlib.suppress(AssertionError):
                page.wait_for(arrived(f"/static/deleted-{attempt}.css"), "a request after the log came back", 0.5)
                break
        else:
            raise AssertionError(f"no request reached the new log:\n{page.text()}")
        assert not page.ended
        assert_nothing_private(page)
    finally:
        page.close()


# 4. A page that comes back.

AWAY_REQUESTS = 5
AWAY_SECONDS = 1.0  # EventSource waits `retry: 1000` ms before it connects again; a worker stops reading at once


@pytest.mark.parametrize("returns_to", [0, 1], ids=["the-same-worker", "the-other-worker"])
def test_a_page_that_comes_back_gets_what_it_missed_or_its_count(stack: RunningStack, returns_to: int) -> None:
    """nginx sends a reconnecting page to either worker: this test takes each way straight to the worker."""
    workers = stack.state["workers"]
    quiet_log(stack)
    page = Stream(workers[0]["port"])
    before = f"/static/before-away-{returns_to}.css"
    try:
        page.hello()
        assert get(stack, before).status_code == 404
        last = page.wait_for(
            lambda events: next((e for e in events if e.name == "request" and e.facts()["path"] == before), None),
            "the last request before the page went away",
        )
    finally:
        page.close()
    time.sleep(AWAY_SECONDS)
    away = [f"/static/away-{returns_to}-{number}.css" for number in range(AWAY_REQUESTS)]
    for path in away:
        assert get(stack, path).status_code == 404
    wait_for(
        lambda: logged(stack, f"/static/away-{returns_to}-", AWAY_REQUESTS),
        seconds=ANSWER_SECONDS,
        what="nginx to write them to its log",
    )

    back = Stream(workers[returns_to]["port"], last_event_id=last.id)
    try:
        hello = back.hello()
        assert hello["missed_known"], hello
        if hello["missed"] < AWAY_REQUESTS:
            back.wait_for(
                lambda events: len([f for f in back.requests() if f["path"] in away]) + hello["missed"] >= len(away),
                "the requests made while the page was away",
                seconds=2,
            )
        replayed = [facts["path"] for facts in back.requests() if facts["path"] in away]
        assert replayed == away[hello["missed"] :], (hello, replayed)
    finally:
        back.close()


# 5. The stack stops with streams open.

STREAMS_AT_STOP = 50


def test_every_stream_ends_when_the_stack_stops_and_none_holds_it_up(stack: RunningStack) -> None:
    """Stopping the stack stops this file's stack: this test comes last.

    The bound is tools.processes.STOP_SECONDS (5 s): how long the stack waits for nginx's graceful stop before
    it kills it. A stack with no stream open stops in about 1.5 s here; one that takes STOP_SECONDS or more
    waited for the open streams, which is what an open /live page must never make it do."""
    port = http_port(stack)
    streams: list[Stream] = []
    try:
        for number in range(STREAMS_AT_STOP):
            streams.append(Stream(port, student(1 + number // PER_ADDRESS)))
        for stream in streams:
            stream.hello()
        assert not any(stream.ended for stream in streams)

        started = time.monotonic()
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout=3 * STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the stack did not stop within {3 * STOP_SECONDS} s with {STREAMS_AT_STOP} streams open")
        stopped_in = time.monotonic() - started
        for stream in streams:
            stream.wait_for_end(seconds=1)  # each had ended by the time the stack was gone
        assert stack.process.returncode == 0, stack.output()
        assert "Stopped nginx and the workers." in stack.output()
        assert stopped_in < STOP_SECONDS, (
            f"the stack took {stopped_in:.1f} s to stop with {STREAMS_AT_STOP} /live streams open: it waited for them"
        )
    finally:
        for stream in streams:
            stream.close()
