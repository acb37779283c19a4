"""/live's pure parts: nginx's log read as it grows (hostile lines, a log emptied, replaced or deleted), who asked
(pseudonyms shared by the stack's workers), and what a slow or returning page is told."""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.runfolder import keep_small
from webapp import livefeed, pseudonyms
from webapp.livefeed import CUT, MAX_LINE_BYTES, SHOWN_PATH_LENGTH, Answer, Feed, NginxLog, Read
from webapp.pseudonyms import INSTRUCTOR, Pseudonyms

STUDENT = "127.0.0.2"
THIS_MACHINE = "127.0.0.1"


def nginx_line(path: str = "/static/style.css", *, msec: float = 1_800_000_000.0, **fields: Any) -> bytes:
    """One line as the stack's nginx writes it (site.conf.j2's log_format, escape=json)."""
    entry = {
        "time": "2027-01-15T10:00:00+09:00", "address": STUDENT, "method": "GET", "path": path, "status": 200,
        "bytes": 1234, "seconds": 0.001, "worker": "", "cache": "", "msec": msec, "served_by": "",
    }  # fmt: skip
    entry.update(fields)
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "access.log").write_bytes(nginx_line("/static/before.css"))
    return tmp_path


@pytest.fixture
def reader(run_dir: Path) -> NginxLog:
    log = NginxLog(run_dir, Pseudonyms(frozenset({THIS_MACHINE}), run_dir))
    log.start()
    return log


def append(run_dir: Path, *lines: bytes) -> None:
    with open(run_dir / "nginx" / "access.log", "ab") as log:  # in append mode, as nginx writes
        log.write(b"".join(lines))


def paths(read: Read) -> list[str]:
    return [answer.path for answer in read.answers]


def as_the_page_gets_it(answer: Answer) -> dict[str, Any]:
    """An answer's facts as a stream sends them (UTF-8) and a browser's JSON.parse reads them (no NaN)."""

    def no_constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON: the browser's JSON.parse throws")

    text = json.dumps(answer.facts(mine=False), ensure_ascii=False).encode("utf-8").decode("utf-8")
    facts: dict[str, Any] = json.loads(text, parse_constant=no_constant)
    return facts


# nginx's log, read as it grows.


def test_the_reader_begins_at_the_logs_end_and_reads_what_comes_after(reader: NginxLog, run_dir: Path) -> None:
    append(run_dir, nginx_line("/static/one.css"), nginx_line("/static/two.css"))
    read = reader.read()
    assert paths(read) == ["/static/one.css", "/static/two.css"]
    assert [answer.who for answer in read.answers] == [1, 1]
    assert paths(reader.read()) == []


def test_hostile_lines_are_shown_escaped_and_cut_without_query_or_name_and_reading_goes_on(
    reader: NginxLog, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(livefeed, "ROWS_PER_ADDRESS", 100)  # one address sends them all: show every one here
    percent_escapes = "/static/" + "%41" * 2800  # 8 KB of them
    append(
        run_dir,
        nginx_line("/static/a\"b'c.css"),
        nginx_line("/static/line\nbreak\u2028.css"),  # written by nginx as \u000a: a newline once parsed
        nginx_line(percent_escapes),
        nginx_line("/static/PLACEHOLDER.css").replace(b"PLACEHOLDER", b"\xff\xfe\xc3("),  # not UTF-8
        nginx_line("/dynamic?name=김철수"),
        b"this is not JSON at all\n",
        nginx_line("/static/" + "x" * 20_000),  # a 20 KB line: nginx's own are cut to 200 characters
        nginx_line("/static/after.css"),
    )
    read = reader.read()
    shown = paths(read)
    assert shown[0] == "/static/a\"b'c.css"
    assert shown[1] == "/static/line\\x0abreak\\x2028.css"
    assert shown[2] == percent_escapes[:SHOWN_PATH_LENGTH] + CUT
    assert shown[3].startswith("/static/\ufffd")
    assert shown[4] == "/dynamic"
    assert shown[-1] == "/static/after.css"
    assert len(shown) == 6
    assert read.counts.unreadable == 2  # the line that is not JSON, and the 20 KB one
    for answer in read.answers:
        facts = as_the_page_gets_it(answer)
        text = json.dumps(facts, ensure_ascii=False)
        assert not any(ord(character) < 0x20 for character in text)
        assert len(facts["path"]) <= SHOWN_PATH_LENGTH + len(CUT)
        assert "김철수" not in text and "name=" not in text and STUDENT not in text


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(nginx_line("/static/PLACEHOLDER.css").replace(b"PLACEHOLDER", b"\\ud800"), id="lone-surrogate"),
        pytest.param(nginx_line(cache="HIT").replace(b'"HIT"', b'"\\udfff"'), id="lone-surrogate-in-cache"),
        pytest.param(nginx_line().replace(b'"seconds":0.001', b'"seconds":NaN'), id="nan-seconds"),
        pytest.param(nginx_line().replace(b'"seconds":0.001', b'"seconds":Infinity'), id="infinite-seconds"),
    ],
)
def test_a_forged_line_python_parses_but_a_page_cannot_is_not_passed_on(
    reader: NginxLog, run_dir: Path, hostile: bytes
) -> None:
    """JSON as Python reads it allows NaN, Infinity and a lone surrogate (\\ud800): a stream cannot encode the
    surrogate in UTF-8 (every page on that worker loses its stream) and a browser's JSON.parse rejects NaN."""
    append(run_dir, hostile, nginx_line("/static/after.css"))
    read = reader.read()
    for answer in read.answers:
        facts = as_the_page_gets_it(answer)
        assert all(math.isfinite(value) for value in facts.values() if isinstance(value, float))
    assert paths(read)[-1] == "/static/after.css"


def test_a_line_written_in_two_parts_is_read_once_whole(reader: NginxLog, run_dir: Path) -> None:
    line = nginx_line("/static/halves.css")
    append(run_dir, line[:40])
    assert paths(reader.read()) == []
    append(run_dir, line[40:])
    assert paths(reader.read()) == ["/static/halves.css"]


def test_an_endless_line_is_dropped_as_unreadable_and_reading_recovers(reader: NginxLog, run_dir: Path) -> None:
    append(run_dir, b'{"path":"/' + b"y" * (MAX_LINE_BYTES + 1000))  # no newline yet
    first = reader.read()
    assert paths(first) == [] and first.counts.unreadable == 1
    append(run_dir, b'y"}\n', nginx_line("/static/after.css"))
    assert paths(reader.read()) == ["/static/after.css"]


def events(read: Read) -> list[str]:
    return [f"{kind}:{data.get('what')}" for kind, data in read.events]


def test_a_log_emptied_the_stacks_way_is_said_and_read_from_its_start(reader: NginxLog, run_dir: Path) -> None:
    log = run_dir / "nginx" / "access.log"
    append(run_dir, nginx_line("/static/one.css"))
    reader.read()
    assert keep_small([log], 0) == [log]  # copied to access.log.1, then emptied in place
    read = reader.read()
    assert events(read) == ["log:restarted"]
    append(run_dir, nginx_line("/static/after.css", msec=1_800_000_100.0))
    assert paths(reader.read()) == ["/static/after.css"]


def test_a_log_deleted_is_said_once_and_a_new_one_is_read_from_its_start(reader: NginxLog, run_dir: Path) -> None:
    log = run_dir / "nginx" / "access.log"
    log.unlink()
    assert events(reader.read()) == ["log:missing"]
    assert events(reader.read()) == []
    log.write_bytes(nginx_line("/static/first-of-the-new.css", msec=1_800_000_100.0))
    read = reader.read()
    assert events(read) == ["log:back"]
    assert paths(read) == ["/static/first-of-the-new.css"]


@pytest.mark.parametrize("how", ["replaced", "emptied"])
def test_a_log_started_again_and_grown_past_the_readers_place_between_two_reads_is_read_from_its_start(
    reader: NginxLog, run_dir: Path, how: str
) -> None:
    """Reads are 200 ms apart: a log replaced (rotated by rename, or deleted and made again) or emptied, then
    written past where the reader was, within that time, is still a new log. Its first lines are not skipped,
    and no line is read from its middle."""
    log = run_dir / "nginx" / "access.log"
    newer = b"".join(nginx_line(f"/static/new-{number}.css", msec=1_800_000_100.0 + number) for number in range(4))
    if how == "replaced":
        log.rename(log.with_name("access.log.old"))
        log.write_bytes(newer)
    else:
        os.truncate(log, 0)
        append(run_dir, newer)
    read = reader.read()
    assert "log:restarted" in events(read) or "log:back" in events(read)
    assert paths(read) == [f"/static/new-{number}.css" for number in range(4)]
    assert read.counts.unreadable == 0


# How many requests a page that comes back missed (its Last-Event-ID names the last one it had).


def answers_of(reader: NginxLog, run_dir: Path, *names: str, msec: float = 1_800_000_000.0) -> list[Answer]:
    append(run_dir, *(nginx_line(f"/static/{name}.css", msec=msec) for name in names))
    return reader.read(budget=100).answers


def test_missed_since_counts_the_requests_between_the_pages_last_and_the_rings_first(
    reader: NginxLog, run_dir: Path
) -> None:
    """The page gets the ring's requests from its first on: those between are the ones it missed."""
    a, _b, c, d = answers_of(reader, run_dir, "a", "b", "c", "d")
    assert reader.missed_since(a.id, oldest=None) == 3  # the ring has none of them: b, c, d
    assert reader.missed_since(a.id, oldest=d) == 2  # the ring starts at d (sent again): b and c missed
    assert reader.missed_since(c.id, oldest=d) == 0


def test_missed_since_counts_across_the_stacks_rotation(reader: NginxLog, run_dir: Path) -> None:
    log = run_dir / "nginx" / "access.log"
    a, _b, _c = answers_of(reader, run_dir, "a", "b", "c")
    keep_small([log], 0)
    reader.read()
    d, _e = answers_of(reader, run_dir, "d", "e", msec=1_800_000_100.0)
    assert reader.missed_since(a.id, oldest=None) == 4  # b, c in access.log.1; d, e in the new log
    assert reader.missed_since(a.id, oldest=d) == 2  # b and c: the ring starts at d


def test_missed_since_is_unknown_for_an_id_it_cannot_place(reader: NginxLog, run_dir: Path) -> None:
    (a,) = answers_of(reader, run_dir, "a")
    assert reader.missed_since("not-an-id", oldest=None) is None
    assert reader.missed_since("", oldest=None) is None
    assert reader.missed_since("1700000000.0-5-1700000000000", oldest=None) is None  # a log emptied twice since
    assert reader.missed_since(a.id, oldest=None) == 0


# Who asked: a number per address, shared by the stack's workers.


def test_addresses_are_numbered_in_order_of_first_request_and_this_machine_is_the_instructor(tmp_path: Path) -> None:
    numbers = Pseudonyms(frozenset({THIS_MACHINE, "::1"}), tmp_path)
    assert [numbers.number(a) for a in ("127.0.0.7", "127.0.0.3", "127.0.0.7", THIS_MACHINE, "::1")] == [
        1, 2, 1, INSTRUCTOR, INSTRUCTOR
    ]  # fmt: skip
    assert numbers.number("") is None
    assert THIS_MACHINE not in (tmp_path / pseudonyms.FILE_NAME).read_text()


def test_two_workers_share_the_numbering_through_the_run_folder(tmp_path: Path) -> None:
    first, second = (Pseudonyms(frozenset({THIS_MACHINE}), tmp_path) for _ in range(2))
    assert first.number("127.0.0.7") == 1
    assert second.number("127.0.0.8") == 2
    assert second.number("127.0.0.7") == 1
    assert first.number("127.0.0.8") == 2
    pseudonyms.forget(tmp_path)  # the stack starts again: numbered afresh
    assert Pseudonyms(frozenset(), tmp_path).number("127.0.0.8") == 1


def test_a_broken_numbering_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / pseudonyms.FILE_NAME).write_text("[not, the numbers")
    assert Pseudonyms(frozenset(), tmp_path).number("127.0.0.7") == 1


@pytest.fixture
def few_numbers(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(pseudonyms, "MAX_NUMBERED", 3)
    yield 3


def test_past_max_numbered_a_new_address_is_unknown_and_the_file_stops_growing(
    tmp_path: Path, few_numbers: int
) -> None:
    numbers = Pseudonyms(frozenset(), tmp_path)
    assert [numbers.number(f"10.0.0.{n}") for n in range(1, 6)] == [1, 2, 3, None, None]
    assert len(json.loads((tmp_path / pseudonyms.FILE_NAME).read_text())) == few_numbers
    assert numbers.number("10.0.0.2") == 2
    assert Pseudonyms(frozenset()).number("10.0.0.9") == 1  # a uvicorn alone keeps them in memory
    alone = Pseudonyms(frozenset())
    assert [alone.number(f"10.0.0.{n}") for n in range(1, 6)] == [1, 2, 3, None, None]


# The feed: one ring per worker, each page only its place in it.


def feed_with(ring: int, monkeypatch: pytest.MonkeyPatch, reader: NginxLog) -> Feed:
    monkeypatch.setattr(livefeed, "RING_SIZE", ring)
    return Feed(reader)


def request_read(*names: str) -> Read:
    read = Read()
    for number, name in enumerate(names):
        read.answers.append(
            Answer(f"1-{number}", 0, "GET", f"/static/{name}.css", 200, 0.1, 1, "file", None, None, "", 1, STUDENT)
        )
    return read


def test_a_slow_page_is_told_how_many_items_it_missed_and_gets_the_rest(
    reader: NginxLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feed_with(10, monkeypatch, reader)
    feed.add(request_read(*(f"r{n}" for n in range(25))))
    assert len(feed.ring) == 10
    missed, items = feed.since(0)
    assert missed == 15
    assert [item.seq for item in items] == list(range(16, 26))
    assert feed.since(feed.seq) == (0, [])
    missed, items = feed.since(20)
    assert missed == 0 and [item.seq for item in items] == [21, 22, 23, 24, 25]


def test_a_new_page_starts_with_the_last_requests_and_a_summary_counts_a_flood(
    reader: NginxLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feed_with(10, monkeypatch, reader)
    read = request_read("a", "b", "c")
    read.events.append(("log", {"what": "restarted", "at": 0}))
    read.counts.static = 40
    feed.add(read)
    assert [item.kind for item in feed.ring] == ["log", "request", "request", "request", "summary"]
    _missed, items = feed.since(feed.recent_requests(2))
    assert [item.answer.path for item in items if item.answer] == ["/static/b.css", "/static/c.css"]
    assert json.loads(feed.ring[-1].json_for(""))["static"] == 40


def test_a_page_that_comes_back_after_no_page_watched_loses_nothing_unsaid(reader: NginxLog, run_dir: Path) -> None:
    """The worker reads the log only while a page watches. A page that comes back (its Last-Event-ID) after the
    reading stopped either gets what was logged meanwhile or is not told it is up to date: the ring must not
    say "here is everything after your last request" while it skipped those requests."""

    async def come_back() -> tuple[int | None, list[str]]:
        feed = Feed(reader)
        feed.open_page()
        append(run_dir, nginx_line("/static/seen.css"))
        await asyncio.sleep(livefeed.READ_EVERY_SECONDS * 2)
        last = feed.ring[-1].answer
        assert last is not None and last.path == "/static/seen.css"
        feed.close_page()
        await asyncio.sleep(livefeed.READ_EVERY_SECONDS * 2)  # the reading stops
        append(run_dir, *(nginx_line(f"/static/away-{n}.css") for n in range(5)))
        feed.open_page()
        await asyncio.sleep(livefeed.READ_EVERY_SECONDS * 2)
        feed.close_page()
        position = feed.position_of(last.id)
        after = feed.since(position)[1] if position is not None else []
        return position, [item.answer.path for item in after if item.answer]

    position, replayed = asyncio.run(come_back())
    if position is not None:  # "you are up to date from here": then the requests made meanwhile follow
        assert replayed == [f"/static/away-{n}.css" for n in range(5)]


def test_a_flood_from_one_address_leaves_rows_for_everyone_else(reader: NginxLog, run_dir: Path) -> None:
    """A benchmark (or one student reloading) floods the log: another student's request still shows by itself."""
    flood = [nginx_line(f"/static/flood-{number}.css", address=THIS_MACHINE) for number in range(200)]
    append(run_dir, *flood[:100], nginx_line("/static/student.css"), *flood[100:])
    read = reader.read()
    assert "/static/student.css" in paths(read)
    assert len(read.answers) == livefeed.ROWS_PER_ADDRESS + 1
    assert read.counts.static == 200 - livefeed.ROWS_PER_ADDRESS  # the rest of the flood: counted, not lost


def test_a_flood_past_the_lines_looked_at_one_by_one_is_counted_whole(
    reader: NginxLog, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(livefeed, "MAX_SCANNED_LINES", 50)
    statics = [nginx_line(f"/static/{number}.css", address=THIS_MACHINE) for number in range(120)]
    dynamics = [nginx_line("/dynamic", address=THIS_MACHINE, worker="127.0.0.1:9001") for _ in range(80)]
    cached = [nginx_line("/dynamic/shared", address=THIS_MACHINE, cache="HIT") for _ in range(30)]
    append(run_dir, *statics, *dynamics, *cached)
    read = reader.read()
    shown = len(read.answers)
    assert shown == livefeed.ROWS_PER_ADDRESS
    assert read.counts.static + read.counts.dynamic + shown == 230  # every request counted once
    assert read.counts.dynamic == 80  # a cached copy is nginx's answer, not a worker's


def test_opening_the_page_does_not_take_a_workers_news_from_the_open_streams(run_dir: Path) -> None:
    """/live's page reads stack.json for the students' address; the news of a worker's death stays the streams'."""
    from webapp.live import live_for
    from webapp.practice import practice_for
    from webapp.requestlog import RequestLog
    from webapp.settings import Settings

    def state(events: list[dict[str, Any]]) -> None:
        workers = [{"number": 1, "port": 9001, "pid": 100, "alive": True}]
        text = {"workers": workers, "worker_events": events, "student_urls": ["http://10.0.0.5:8080/"]}
        (run_dir / "stack.json").write_text(json.dumps(text))

    state([])
    settings = Settings(stack_run_dir=run_dir)
    live = live_for(settings, RequestLog(10), practice_for(settings))
    feed = live.feed()
    assert isinstance(feed.source, NginxLog)
    feed.source.start()
    feed.pages = 1  # a projector is open: its stream's reader owns the news
    died = {"number": 1, "pid": 100, "what": "died", "at": 1}
    state([died])
    os.utime(run_dir / "stack.json", ns=(1, 1))  # another stamp than the first write's, however fast this runs
    feed.source.workers._read_at = 0  # the reader last looked longer ago than its interval
    assert live.student_urls() == ["http://10.0.0.5:8080/"]
    assert feed.source.read().events == [("worker", died)]
