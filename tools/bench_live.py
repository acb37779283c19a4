"""/live under load: what open projector pages cost the stack, how soon a request reaches them, a worker's memory.

Run by tools/bench.py on its stack, after the other rows, in this order:
1. idle: worker 1's memory (RSS) before any /live page has opened (it has served the other rows by then);
2. static through the stack with wrk (the same page, duration and warm-up as the other rows), in turn: without
   streams, then with STREAMS open /live/events streams through nginx, each read as it arrives, as a browser
   does; PAIRS times, and each side keeps its median. The streams come from students' addresses, wrk's flood
   from 127.0.0.1, the instructor's.
3. while streams are open, a probe asks for PROBE_PATH from PROBE_ADDRESS (another student) every PROBE_SECONDS.
   Every `request` event a timed stream receives is timed: its arrival here minus its `at`, the time nginx
   logged the request (the same machine's clock). Under a flood the feed shows about 100 requests a second one
   by one and counts the rest in `summary` events: the timed events are those shown. The baseline: the same
   streams, open for as long as a run before the first loaded one, with only the probe's requests.
4. memory: STREAMS streams opened on worker 1 itself (through nginx they would be shared between the workers),
   static through the stack for MEMORY_SECONDS, then worker 1's RSS, the streams still open.
"""

from __future__ import annotations

import json
import math
import re
import selectors
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.processes import HOST, ProgramError
from webapp.i18n import N_
from webapp.terminal import pad
from webapp.terminal import text as _

STREAMS = 100
# Students' browsers, 5 to an address (the stack allows 6 open /live pages from one address by default).
STREAM_ADDRESSES = tuple(f"127.0.0.{number}" for number in range(10, 30))
TIMED_EVERY = 4  # every 4th stream is parsed and timed; the others are read and only scanned for "missed"
EVENTS_PATH = "/live/events"
PROBE_ADDRESS = "127.0.0.2"
PROBE_PATH = "/static/style.css"  # a file wrk does not ask for
PROBE_SECONDS = 0.1
PAIRS, QUICK_PAIRS = 3, 1  # the machine's noise is 10-20% between two runs a minute apart: take turns
MEMORY_SECONDS, QUICK_MEMORY_SECONDS = 60.0, 3.0
DELAY_LIMIT_MS = 1000.0
OPEN_SECONDS = 15.0  # for every stream to say hello
SOCKET_SECONDS = 5.0
READ_BYTES = 65536
EVENT_END = b"\r\n\r\n"  # sse-starlette ends each event with an empty line; its lines end in \r\n
MISSED = b"event: missed\r\n"
RSS_LINE = re.compile(r"^VmRSS:\s+(\d+)\s+kB$", re.MULTILINE)
KIB_PER_MIB = 1024

# Runs wrk on the stack's static page for the given seconds; returns its figures (tools/bench.py's run_wrk).
LoadStatic = Callable[[float], dict[str, float]]
# The CPU seconds a process has used so far (tools/bench.py's cpu_seconds).
CpuSeconds = Callable[[int], float | None]


@dataclass(frozen=True)
class Claim:
    """A target for one figure of this part against its baseline, both from the run (tools/bench.py's Target)."""

    name: str
    claim: str
    figure: str
    baseline: str
    at_least: float | None = None
    at_most: float | None = None

    def met(self, ratio: float) -> bool:
        return (self.at_least is None or ratio >= self.at_least) and (self.at_most is None or ratio <= self.at_most)

    def verdict(self, figures: dict[str, float | None]) -> dict[str, Any]:
        ratio = ratio_of(figures.get(self.figure), figures.get(self.baseline))
        return {**asdict(self), "ratio": ratio, "met": ratio is not None and self.met(ratio)}


CLAIMS = (
    Claim(
        "live_static",
        N_("static via nginx with 100 open /live streams vs without them"),
        "static_with_streams",
        "static_without_streams",
        at_least=0.9,
    ),
    Claim(
        "live_delay",
        N_("p99 delay of a /live request event under a static flood vs 1 s"),
        "delay_p99_ms",
        "delay_limit_ms",
        at_most=1.0,
    ),
    Claim(
        "live_memory",
        N_("memory of a worker with 100 /live streams after the load vs idle"),
        "rss_with_streams_kib",
        "rss_idle_kib",
        at_most=1.2,
    ),
)


@dataclass(frozen=True)
class Event:
    kind: str
    data: str


# The pure parts: tests/unit/test_bench_live.py.


def percentile(values: Sequence[float], share: float) -> float:
    """Given values and a share (0.99 for p99), return the nearest-rank percentile: the smallest value that at
    least `share` of the values do not exceed."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def p99(values: Sequence[float]) -> float | None:
    """The 99th percentile in ms, rounded; None when nothing was timed."""
    return round(percentile(values, 0.99), 1) if values else None


def ratio_of(figure: float | None, baseline: float | None) -> float | None:
    return round(figure / baseline, 3) if figure is not None and baseline else None


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Given what a stream sent so far, return its whole events and what follows them (an event not yet whole)."""
    *whole, rest = buffer.split(EVENT_END)
    return whole, rest


def parse_event(raw: bytes) -> Event:
    """Given one server-sent event's lines, return its name ("message" if none) and its data lines joined."""
    kind, data = "message", []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, _colon, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
    return Event(kind, "\n".join(data))


def request_timing(data: str) -> tuple[int, bool]:
    """Given a `request` event's data, return its `at` (ms) and whether it is the probe's: another visitor's
    request for PROBE_PATH (wrk's come from this machine: the instructor's, `who` 0)."""
    facts = json.loads(data)
    return int(facts["at"]), facts.get("path") == PROBE_PATH and facts.get("who") not in (0, None)


def parse_status_code(head: bytes) -> int:
    """Given an HTTP response head, return its status code."""
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {head[:80]!r}")
    return int(parts[1])


def parse_rss_kib(status: str) -> int:
    """Given /proc/<pid>/status, return the resident memory (VmRSS) in KiB."""
    match = RSS_LINE.search(status)
    if match is None:
        raise ValueError("no VmRSS line")
    return int(match.group(1))


def stack_workers(state: str) -> list[dict[str, int]]:
    """Given the stack's stack.json, return its workers' numbers, ports and pids."""
    workers = json.loads(state)["workers"]
    return [{"number": int(w["number"]), "port": int(w["port"]), "pid": int(w["pid"])} for w in workers]


# Processes and sockets.


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status")
    if status.exists():  # Linux
        return parse_rss_kib(status.read_text())
    result = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=True)
    return int(result.stdout.strip())  # macOS: KiB too


def now_ms() -> float:
    return time.time() * 1000


@dataclass
class Timings:
    """The `request` events timed streams received: nginx's time for each, its delay (ms), whether a probe's."""

    at_ms: list[int] = field(default_factory=list)
    delay_ms: list[float] = field(default_factory=list)
    probe: list[bool] = field(default_factory=list)

    def add(self, at_ms: int, delay_ms: float, probe: bool) -> None:
        self.at_ms.append(at_ms)
        self.delay_ms.append(delay_ms)
        self.probe.append(probe)

    def between(self, start_ms: float, end_ms: float, *, probes_only: bool = False) -> list[float]:
        """The delays of the requests nginx logged between two times (ms since the epoch)."""
        rows = zip(self.at_ms, self.delay_ms, self.probe, strict=True)
        return [delay for at, delay, probe in rows if start_ms <= at <= end_ms and (probe or not probes_only)]

    def probes_between(self, start_ms: float, end_ms: float) -> set[int]:
        """The probe's requests shown between two times, each once (every stream of a worker gets the same)."""
        return {at for at, probe in zip(self.at_ms, self.probe, strict=True) if probe and start_ms <= at <= end_ms}


@dataclass
class Stream:
    """One open /live/events answer, read as it arrives: its head, then its events."""

    connection: socket.socket
    timed: bool
    status: int | None = None
    pid: int | None = None  # the worker streaming, from its hello
    history: int = 0  # requests from before it opened, replayed first: not timed
    missed: int = 0  # "missed" events: it read too slowly
    rest: bytes = b""


class Streams:
    """`count` /live/events streams to one port from STREAM_ADDRESSES, all read in one thread as events come.

    Each asks as HTTP/1.0, so that nginx passes the events on unchunked: the bytes the worker sent.
    """

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.timings = Timings()
        self.streams: list[Stream] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_all, name="live-streams", daemon=True)
        for number in range(count):
            source = STREAM_ADDRESSES[number % len(STREAM_ADDRESSES)]
            self.streams.append(Stream(self._open(source), timed=number % TIMED_EVERY == 0))

    def __enter__(self) -> Streams:
        self._reader.start()
        try:
            self._wait_for_hellos()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._reader.join(SOCKET_SECONDS)
        for stream in self.streams:
            stream.connection.close()

    @property
    def missed(self) -> int:
        return sum(stream.missed for stream in self.streams)

    def _open(self, source: str) -> socket.socket:
        connection = socket.create_connection((HOST, self.port), SOCKET_SECONDS, (source, 0))
        request = f"GET {EVENTS_PATH} HTTP/1.0\r\nHost: {HOST}:{self.port}\r\nAccept: text/event-stream\r\n\r\n"
        connection.sendall(request.encode())
        connection.setblocking(False)
        return connection

    def _wait_for_hellos(self) -> None:
        deadline = time.monotonic() + OPEN_SECONDS
        while any(stream.pid is None for stream in self.streams):
            refused = [stream.status for stream in self.streams if stream.status not in (None, 200)]
            if refused or time.monotonic() > deadline or not self._reader.is_alive():
                opened = sum(stream.pid is not None for stream in self.streams)
                raise ProgramError(
                    _("%(opened)s of %(count)s /live streams opened within %(seconds)s s (refused: %(refused)s)")
                    % {"opened": opened, "count": len(self.streams), "seconds": f"{OPEN_SECONDS:g}", "refused": refused}
                )
            time.sleep(0.05)

    def _read_all(self) -> None:
        with selectors.DefaultSelector() as selector:
            for stream in self.streams:
                selector.register(stream.connection, selectors.EVENT_READ, stream)
            while not self._stop.is_set():
                for key, _mask in selector.select(timeout=0.1):
                    if not self._read(key.data):
                        selector.unregister(key.fileobj)

    def _read(self, stream: Stream) -> bool:
        """Read what `stream` has now; return False once it has ended."""
        try:
            data = stream.connection.recv(READ_BYTES)
        except BlockingIOError:
            return True
        except OSError:
            return False
        arrived_ms = now_ms()
        if not data:
            return False
        if stream.status is None:
            head, found, data = (stream.rest + data).partition(EVENT_END)
            if not found:
                stream.rest = head
                return True
            stream.rest, stream.status = b"", parse_status_code(head)
        if stream.pid is not None and not stream.timed:
            stream.missed += data.count(MISSED)  # read like the others, parsed no further: the client's CPU is small
            return True
        whole, stream.rest = split_events(stream.rest + data)
        for raw in whole:
            self._take(stream, parse_event(raw), arrived_ms)
        return True

    def _take(self, stream: Stream, event: Event, arrived_ms: float) -> None:
        if event.kind == "hello":
            hello = json.loads(event.data)
            stream.pid, stream.history = int(hello["pid"]), int(hello["history"])
        elif event.kind == "missed":
            stream.missed += 1
        elif event.kind == "request" and stream.history > 0:
            stream.history -= 1
        elif event.kind == "request" and stream.timed:
            at, probe = request_timing(event.data)
            self.timings.add(at, arrived_ms - at, probe)


class Probe:
    """Another student asking for PROBE_PATH every PROBE_SECONDS, each on a new connection, until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent: list[float] = []  # when each was asked, ms since the epoch
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask_until_stopped, name="live-probe", daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(SOCKET_SECONDS * 2)

    def _ask_until_stopped(self) -> None:
        while not self._stop.wait(PROBE_SECONDS):
            self.sent.append(now_ms())
            if not self._ask():
                self.failed += 1

    def _ask(self) -> bool:
        request = f"GET {PROBE_PATH} HTTP/1.0\r\nHost: {HOST}:{self.port}\r\n\r\n".encode()
        answer = b""
        try:
            with socket.create_connection((HOST, self.port), SOCKET_SECONDS, (PROBE_ADDRESS, 0)) as connection:
                connection.sendall(request)
                while chunk := connection.recv(READ_BYTES):
                    answer += chunk
            return parse_status_code(answer) == 200
        except (OSError, ValueError):
            return False


# The measurement.


@dataclass
class Window:
    """When a stretch of the measurement ran, ms since the epoch."""

    start_ms: float = 0.0
    end_ms: float = 0.0


@contextmanager
def timed(window: Window) -> Iterator[None]:
    window.start_ms = now_ms()
    try:
        yield
    finally:
        window.end_ms = now_ms()


@dataclass
class Observed:
    """What the streams of every loaded run saw, and what the workers spent meanwhile."""

    idle_delays: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    probe_delays: list[float] = field(default_factory=list)
    probes_sent: int = 0
    probes_shown: int = 0
    probes_failed: int = 0
    missed: int = 0
    loaded_seconds: float = 0.0
    workers_cpu_seconds: float = 0.0

    def add(self, streams: Streams, probe: Probe, idle: Window, loaded: Window) -> None:
        timings = streams.timings
        self.idle_delays += timings.between(idle.start_ms, idle.end_ms)
        self.delays += timings.between(loaded.start_ms, loaded.end_ms)
        self.probe_delays += timings.between(loaded.start_ms, loaded.end_ms, probes_only=True)
        self.probes_sent += sum(loaded.start_ms <= sent <= loaded.end_ms for sent in probe.sent)
        self.probes_shown += len(timings.probes_between(loaded.start_ms, loaded.end_ms))
        self.probes_failed += probe.failed
        self.missed += streams.missed
        self.loaded_seconds += (loaded.end_ms - loaded.start_ms) / 1000

    def summary(self, workers: int) -> dict[str, Any]:
        return {
            "events_timed": len(self.delays),
            "events_timed_idle": len(self.idle_delays),
            "median_ms": round(statistics.median(self.delays), 1) if self.delays else None,
            "max_ms": round(max(self.delays), 1) if self.delays else None,
            "probes_sent": self.probes_sent,
            "probes_shown": self.probes_shown,
            "probes_failed": self.probes_failed,
            "probe_p99_ms": p99(self.probe_delays),
            "missed": self.missed,
            # CPU seconds each worker spent per second of the loaded runs (wrk's warm-up included).
            "worker_cpu_share": round(self.workers_cpu_seconds / self.loaded_seconds / workers, 3),
        }


def warmed_run(load: LoadStatic, seconds: float, warmup: float) -> float:
    """wrk's requests a second on the static page after `warmup` seconds of the same, as every row is measured."""
    if warmup:
        load(warmup)
    return load(seconds)["requests_per_second"]


def workers_cpu(workers: list[dict[str, int]], cpu: CpuSeconds) -> float:
    return sum(cpu(worker["pid"]) or 0.0 for worker in workers)


def loaded_with_streams(
    stack_port: int, workers: list[dict[str, int]], run: Callable[[], float], cpu: CpuSeconds, *,
    idle_seconds: float, observed: Observed,
) -> float:  # fmt: skip
    """Open STREAMS streams through nginx and the probe, wait `idle_seconds` (the delay's baseline), run wrk;
    add what the streams saw to `observed`, and return wrk's requests a second."""
    idle, loaded = Window(), Window()
    with Probe(stack_port) as probe, Streams(stack_port, STREAMS) as streams:
        with timed(idle):
            time.sleep(idle_seconds)
        cpu_before = workers_cpu(workers, cpu)
        with timed(loaded):
            rate = run()
        observed.workers_cpu_seconds += workers_cpu(workers, cpu) - cpu_before
    observed.add(streams, probe, idle, loaded)
    return rate


def static_pairs(
    stack_port: int, workers: list[dict[str, int]], run: Callable[[], float], cpu: CpuSeconds, *,
    pairs: int, idle_seconds: float,
) -> tuple[list[float], list[float], Observed]:  # fmt: skip
    """Static through the stack without streams and with them, `pairs` times in turn: the rates, and what the
    streams saw (the first pair's streams stay idle `idle_seconds` before its load: the delay's baseline)."""
    without: list[float] = []
    with_streams: list[float] = []
    observed = Observed()
    for pair in range(pairs):
        without.append(run())
        _print_rate(_("/live: static via nginx, no streams"), without[-1])
        idle = idle_seconds if pair == 0 else 0.0
        with_streams.append(loaded_with_streams(stack_port, workers, run, cpu, idle_seconds=idle, observed=observed))
        _print_rate(_("/live: static via nginx, %(count)s streams open") % {"count": STREAMS}, with_streams[-1])
    return without, with_streams, observed


def memory_under_load(worker: dict[str, int], load: LoadStatic, seconds: float) -> dict[str, int]:
    """STREAMS streams on `worker` itself while wrk loads the stack's static page for `seconds`; its RSS after."""
    with Streams(worker["port"], STREAMS) as streams:
        load(seconds)
        rss = rss_kib(worker["pid"])
    return {"rss_with_streams_kib": rss, "missed": streams.missed}


def measure(
    stack_port: int, stack_dir: Path, load: LoadStatic, cpu: CpuSeconds, *, seconds: float, warmup: float,
    quick: bool,
) -> dict[str, Any]:  # fmt: skip
    """The three /live figures and their baselines, on the benchmark's running stack (`stack_dir`: its run folder,
    `stack_port`: its nginx's HTTP port)."""
    workers = stack_workers((stack_dir / "stack.json").read_text())
    worker = workers[0]
    idle_rss = rss_kib(worker["pid"])
    without, with_streams, observed = static_pairs(
        stack_port, workers, lambda: warmed_run(load, seconds, warmup), cpu,
        pairs=QUICK_PAIRS if quick else PAIRS, idle_seconds=seconds,
    )  # fmt: skip
    memory_seconds = QUICK_MEMORY_SECONDS if quick else MEMORY_SECONDS
    print(
        "  "
        + _("/live: %(count)s streams on worker %(number)s under load for %(seconds)s s ...")
        % {"count": STREAMS, "number": worker["number"], "seconds": f"{memory_seconds:g}"},
        flush=True,
    )
    memory = memory_under_load(worker, load, memory_seconds)
    figures: dict[str, float | None] = {
        "static_without_streams": statistics.median(without),
        "static_with_streams": statistics.median(with_streams),
        "delay_p99_ms": p99(observed.delays),
        "delay_idle_p99_ms": p99(observed.idle_delays),
        "delay_limit_ms": DELAY_LIMIT_MS,
        "rss_idle_kib": idle_rss,
        "rss_with_streams_kib": memory["rss_with_streams_kib"],
    }
    return {
        "streams": STREAMS,
        "stream_addresses": len(STREAM_ADDRESSES),
        "timed_streams": len(range(0, STREAMS, TIMED_EVERY)),
        "probe": {"address": PROBE_ADDRESS, "path": PROBE_PATH, "every_ms": PROBE_SECONDS * 1000},
        "pairs": len(without),
        "memory_seconds": memory_seconds,
        "worker": worker["number"],
        "runs": {"static_without_streams": without, "static_with_streams": with_streams},
        "figures": figures,
        "delays": observed.summary(len(workers)),
        "memory_missed": memory["missed"],
        "targets": [claim.verdict(figures) for claim in CLAIMS],
    }


def _print_rate(label: str, rate: float) -> None:
    print(f"  {pad(label, 52)} {rate:>10,.0f} req/s", flush=True)


# The table tools/bench.py prints.


def format_live(live: dict[str, Any]) -> list[str]:
    """The three /live rows, each with its baseline from the same run, and what the delay's row measured."""
    figures = live["figures"]
    ratios = {target["figure"]: target["ratio"] for target in live["targets"]}
    rows = [
        (
            _("static via nginx, %(count)s /live streams open, req/s") % {"count": live["streams"]},
            f"{figures['static_with_streams']:,.0f}",
            _("%(value)s without them (median of %(pairs)s runs each, in turn)")
            % {"value": f"{figures['static_without_streams']:,.0f}", "pairs": live["pairs"]},
            ratios["static_with_streams"],
        ),
        (
            _("p99 delay of a request event shown under the flood, ms"),
            _ms(figures["delay_p99_ms"]),
            _("%(value)s with the streams open and no load (the probe's requests only)")
            % {"value": _ms(figures["delay_idle_p99_ms"])},
            None,
        ),
        (
            _("worker %(number)s's memory with %(count)s streams after %(seconds)s s of load, MiB")
            % {"number": live["worker"], "count": live["streams"], "seconds": f"{live['memory_seconds']:g}"},
            f"{figures['rss_with_streams_kib'] / KIB_PER_MIB:,.1f}",
            _("%(value)s idle, before the streams (after the rows above)")
            % {"value": f"{figures['rss_idle_kib'] / KIB_PER_MIB:,.1f}"},
            ratios["rss_with_streams_kib"],
        ),
    ]
    lines = [
        _(
            "/live under load (tools/bench_live.py): %(count)s open streams from %(addresses)s student addresses, "
            "each read as it arrives; wrk from 127.0.0.1:"
        )
        % {"count": live["streams"], "addresses": live["stream_addresses"]},
        "  " + " ".join([pad(_("case"), 66), pad(_("figure"), 8, right=True), " " + _("baseline")]),
    ]
    for label, value, baseline, ratio in rows:
        ratio_text = "" if ratio is None else f"  ({ratio:.3f} \N{MULTIPLICATION SIGN})"
        lines.append(f"  {pad(label, 66)} {value:>8}  {baseline}{ratio_text}")
    return [*lines, "  " + _delay_note(live), "  " + _probe_note(live)]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _delay_note(live: dict[str, Any]) -> str:
    return _(
        "delay: when each of %(events)s request events arrived on %(timed)s of the streams, minus nginx's time for "
        "it (wrk's requests and the probe's, as the feed showed them one by one)"
    ) % {"events": f"{live['delays']['events_timed']:,}", "timed": live["timed_streams"]}


def _probe_note(live: dict[str, Any]) -> str:
    delays = live["delays"]
    return _(
        "the probe (%(address)s, every %(every)s ms) under the flood: shown one by one %(shown)s times of %(sent)s, "
        'the rest counted in summaries; "missed" events: %(missed)s; each worker\'s CPU meanwhile: %(cpu)s s a second'
    ) % {
        "address": live["probe"]["address"],
        "every": f"{live['probe']['every_ms']:g}",
        "shown": delays["probes_shown"],
        "sent": delays["probes_sent"],
        "missed": delays["missed"] + live["memory_missed"],
        "cpu": f"{delays['worker_cpu_share']:.2f}",
    }
