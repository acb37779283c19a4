"""The /live part of the benchmark (tools/bench_live.py): its percentile and ratios, how it reads a stream's events
and the figures it times, and the rows it prints."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sse_starlette import ServerSentEvent

from tools import bench, bench_live
from tools.bench_live import (
    CLAIMS,
    PROBE_PATH,
    Timings,
    p99,
    parse_event,
    parse_rss_kib,
    parse_status_code,
    percentile,
    ratio_of,
    request_timing,
    split_events,
    stack_workers,
)
from tools.processes import HOST
from webapp import terminal
from webapp.livefeed import Answer, Item
from webapp.paths import BENCH_DIR


def _answer(*, at: int = 1_800_000_000_123, path: str = "/static/index.html", who: int | None = 0) -> Answer:
    return Answer(
        id="1.5-300", at=at, method="GET", path=path, status=200, ms=0.2, bytes=1234, how="file", worker=None,
        pid=None, cache="", who=who, address="127.0.0.9",
    )  # fmt: skip


def _request_event(answer: Answer) -> bytes:
    """A request event exactly as /live sends it to a page that is not its visitor's."""
    item = Item(7, "request", answer=answer)
    return ServerSentEvent(data=item.json_for("127.0.0.50"), event="request", id=answer.id).encode()


def test_p99_is_the_nearest_rank_a_hundredth_of_the_values_lie_above() -> None:
    assert percentile(list(range(1, 101)), 0.99) == 99
    assert percentile(list(range(1000, 0, -1)), 0.99) == 990  # any order
    assert percentile([42.0], 0.99) == 42.0
    assert percentile([1.0, 2.0], 0.5) == 1.0
    assert p99([*[10.0] * 98, 500.0, 900.0]) == 500.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.99)


def test_p99_of_nothing_timed_is_none_and_so_is_its_ratio() -> None:
    assert p99([]) is None
    assert ratio_of(None, 1000.0) is None and ratio_of(5.0, 0.0) is None and ratio_of(5.0, None) is None
    assert ratio_of(14_000.0, 15_000.0) == 0.933


@pytest.mark.parametrize(
    ("figures", "met"),
    [
        ({"static_with_streams": 9_000.0, "static_without_streams": 10_000.0}, True),  # 0.9 is enough
        ({"static_with_streams": 8_990.0, "static_without_streams": 10_000.0}, False),
        ({"static_with_streams": None, "static_without_streams": 10_000.0}, False),
    ],
)
def test_a_claim_is_met_by_its_ratio_to_its_baseline(figures: dict[str, float | None], met: bool) -> None:
    verdict = CLAIMS[0].verdict(figures)
    assert verdict["met"] is met
    assert verdict["at_least"] == 0.9 and verdict["claim"] == CLAIMS[0].claim


def test_the_delay_and_the_memory_claims_are_bounds_from_above() -> None:
    delay, memory = CLAIMS[1], CLAIMS[2]
    assert delay.verdict({"delay_p99_ms": 1000.0, "delay_limit_ms": 1000.0})["met"]
    assert not delay.verdict({"delay_p99_ms": 1001.0, "delay_limit_ms": 1000.0})["met"]
    assert memory.verdict({"rss_with_streams_kib": 120.0, "rss_idle_kib": 100.0})["ratio"] == 1.2
    assert not memory.verdict({"rss_with_streams_kib": 121.0, "rss_idle_kib": 100.0})["met"]


def test_events_are_split_where_sse_starlette_ends_them_and_a_partial_one_is_kept() -> None:
    hello = ServerSentEvent(data='{"pid": 12}', event="hello", retry=1000).encode()
    request = _request_event(_answer())
    whole, rest = split_events(hello + request[:30])
    assert whole == [hello.removesuffix(bench_live.EVENT_END)] and rest == request[:30]
    whole, rest = split_events(rest + request[30:])
    assert [parse_event(raw).kind for raw in whole] == ["request"] and rest == b""


def test_an_event_is_read_for_its_name_and_its_data_lines() -> None:
    encoded = ServerSentEvent(data="first\nsecond", event="missed", id="3").encode()
    assert parse_event(encoded.removesuffix(bench_live.EVENT_END)) == bench_live.Event("missed", "first\nsecond")
    assert parse_event(b"data: {}").kind == "message"  # no event line: the default name


def test_a_request_event_gives_nginx_time_and_whether_it_is_the_probes() -> None:
    def timing(answer: Answer) -> tuple[int, bool]:
        raw, _rest = split_events(_request_event(answer))
        return request_timing(parse_event(raw[0]).data)

    assert timing(_answer(at=1_800_000_000_123)) == (1_800_000_000_123, False)  # wrk's: the instructor's
    assert timing(_answer(path=PROBE_PATH, who=3)) == (1_800_000_000_123, True)  # a student's, for the probe's file
    assert timing(_answer(path=PROBE_PATH, who=0)) == (1_800_000_000_123, False)
    assert timing(_answer(who=3)) == (1_800_000_000_123, False)  # a student's, for another file


def test_timings_are_picked_by_the_time_nginx_logged_each_request() -> None:
    timings = Timings()
    timings.add(1_000, 250.0, False)
    timings.add(2_000, 300.0, True)
    timings.add(2_000, 310.0, True)  # the same probe request, on another stream
    timings.add(3_000, 900.0, False)
    assert timings.between(1_500, 3_000) == [300.0, 310.0, 900.0]
    assert timings.between(0, 10_000, probes_only=True) == [300.0, 310.0]
    assert timings.probes_between(0, 10_000) == {2_000}


def test_the_resident_memory_and_the_status_code_and_the_workers_are_read() -> None:
    status = "Name:\tuvicorn\nVmPeak:\t  300000 kB\nVmHWM:\t   91000 kB\nVmRSS:\t   90216 kB\nThreads:\t3\n"
    assert parse_rss_kib(status) == 90216
    with pytest.raises(ValueError, match="VmRSS"):
        parse_rss_kib("Name:\tuvicorn\n")
    assert parse_status_code(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream") == 200
    assert parse_status_code(b"HTTP/1.1 429 Too Many Requests") == 429
    with pytest.raises(ValueError, match="not an HTTP response"):
        parse_status_code(b"SSH-2.0-OpenSSH")
    state = {
        "workers": [{"number": 1, "port": 40001, "pid": 11, "alive": True}, {"number": 2, "port": 40002, "pid": 12}]
    }
    assert stack_workers(json.dumps(state)) == [
        {"number": 1, "port": 40001, "pid": 11},
        {"number": 2, "port": 40002, "pid": 12},
    ]


@contextmanager
def _event_server(events: list[bytes], connections: int) -> Iterator[int]:
    """A loopback server answering `connections` requests with an event-stream head and `events`, then holding."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(5)
    accepted: list[socket.socket] = []

    def serve() -> None:
        for _ in range(connections):
            connection, _address = listener.accept()
            accepted.append(connection)
            connection.sendall(b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
            for event in events:  # one send each, as sse-starlette sends them
                connection.sendall(event)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1]
    finally:
        server.join(5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_streams_time_the_requests_shown_after_the_replayed_ones_and_count_missed_events() -> None:
    hello = ServerSentEvent(data=json.dumps({"pid": 4321, "history": 1}), event="hello").encode()
    replayed = _request_event(_answer(at=1_000))  # from before the page opened: not timed
    shown = _request_event(_answer(at=2_000, path=PROBE_PATH, who=2))
    missed = ServerSentEvent(data=json.dumps({"count": 40, "why": "slow", "at": 3_000}), event="missed").encode()
    count = bench_live.TIMED_EVERY * 2
    with (
        _event_server([hello, replayed, shown, missed], count) as port,
        bench_live.Streams(port, count) as streams,
    ):
        assert {stream.pid for stream in streams.streams} == {4321}
        for _ in range(100):
            if len(streams.timings.at_ms) == 2 and streams.missed == count:
                break
            threading.Event().wait(0.05)
    assert streams.timings.at_ms == [2_000, 2_000]  # one request on each timed stream, every 4th
    assert streams.timings.probe == [True, True] and all(delay > 0 for delay in streams.timings.delay_ms)
    assert streams.missed == count  # every stream, timed or not, saw its "missed" event


def _live() -> dict[str, Any]:
    figures: dict[str, float | None] = {
        "static_without_streams": 15_000.0, "static_with_streams": 14_000.0, "delay_p99_ms": 438.0,
        "delay_idle_p99_ms": 450.0, "delay_limit_ms": 1000.0, "rss_idle_kib": 82_172, "rss_with_streams_kib": 90_216,
    }  # fmt: skip
    return {
        "streams": 100, "stream_addresses": 20, "timed_streams": 25, "pairs": 3, "memory_seconds": 60.0, "worker": 1,
        "probe": {"address": "127.0.0.2", "path": PROBE_PATH, "every_ms": 100.0},
        "figures": figures,
        "delays": {"events_timed": 29_095, "probes_sent": 115, "probes_shown": 4, "missed": 0,
                   "worker_cpu_share": 0.04},
        "memory_missed": 0,
        "targets": [claim.verdict(figures) for claim in CLAIMS],
    }  # fmt: skip


def test_each_live_row_is_printed_with_its_baseline_and_each_claim_with_its_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    lines = bench_live.format_live(_live())
    static, delay, memory = (next(line for line in lines if line.lstrip().startswith(start)) for start in (
        "static via nginx, 100 /live streams open", "p99 delay", "worker 1's memory with 100 streams after 60 s",
    ))  # fmt: skip
    assert "14,000  15,000 without them (median of 3 runs each, in turn)  (0.933 \N{MULTIPLICATION SIGN})" in static
    assert "438  450 with the streams open and no load (the probe's requests only)" in delay
    assert "88.1  80.2 idle, before the streams" in memory and memory.endswith("(1.098 \N{MULTIPLICATION SIGN})")
    assert any("shown one by one 4 times of 115" in line for line in lines)
    table = bench.format_table({**_reference_like_results(), "live": _live()})
    claims = table.split("The claims, as ratios from this run:")[1]
    assert "static via nginx with 100 open /live streams vs without them" in claims
    assert "0.93  (target >= 0.9: met)" in claims and "0.44  (target <= 1: met)" in claims


def test_the_live_rows_speak_korean_under_a_korean_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    korean = terminal.translations("ko")
    for claim in CLAIMS:
        assert korean.gettext(claim.claim) != claim.claim, claim.claim
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    lines = bench_live.format_live(_live())
    assert "학생 IP 주소 20개에서 스트림 100개" in lines[0]
    assert not any(word in "\n".join(lines) for word in ("without them", "idle, before", "the probe (", "delay:"))


def _reference_like_results() -> dict[str, Any]:
    """The committed reference run's results: made before the /live rows, so without them."""
    results: dict[str, Any] = json.loads((BENCH_DIR / "results.json").read_text(encoding="utf-8"))
    assert "live" not in results
    return results
