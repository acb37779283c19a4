"""The benchmark's parsing and its command line, and the /bench page that shows its results."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import MakeClient
from tests.unit.test_commands import problems_with
from tools.bench import CASES, TARGETS, format_table, parse_args, parse_wrk, write_results
from tools.bench_reload import ROWS as RELOAD_ROWS
from webapp.paths import BENCH_DIR, BENCH_RUNS_DIR

# What wrk 4.1 prints with --latency (trimmed of the distribution lines we do not read).
WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:8080/static/index.html
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   712.45us    1.02ms  20.11ms   93.10%
    Req/Sec    21.97k     2.10k   25.12k    70.00%
  Latency Distribution
     50%  412.00us
     75%  655.00us
     90%    1.31ms
     99%    5.07ms
  43715 requests in 1.00s, 178.06MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  43634.12
Transfer/sec:    177.74MB
"""


def test_parse_wrk_reads_rate_latencies_and_errors() -> None:
    assert parse_wrk(WRK_OUTPUT) == {
        "requests": 43715,
        "requests_per_second": 43634.12,
        "latency_p50_ms": 0.412,
        "latency_p99_ms": 5.07,
        "errors": 7,
    }


def test_parse_wrk_refuses_output_without_figures() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


# The edit and start-up rows' medians, in tools.bench_reload.ROWS's order: the site's edit is 1.177 times the lesson's.
RELOAD_MEDIANS_MS = {"site_edit": 612.0, "lesson_edit": 520.0, "site_start": 560.0, "lesson_start": 470.0}
TIMES = "\N{MULTIPLICATION SIGN}"


def _results(*, quick: bool = False, cpu: str = "test cpu") -> dict[str, Any]:
    """Results as tools.bench writes them; static_nginx is 4x static_uvicorn."""
    rates = {case.name: 1000.0 * (index + 1) for index, case in enumerate(CASES)}
    rates["static_uvicorn"], rates["static_nginx"] = 1000.0, 4000.0
    rows = [
        {**case.__dict__, "url": "http://127.0.0.1/", "requests_per_second": rates[case.name],
         "latency_p50_ms": 1.0, "latency_p99_ms": 2.0, "errors": 0, "ratio": 1.0, "runs": [rates[case.name]]}
        for case in CASES
    ]  # fmt: skip
    return {
        "date": "2026-11-28T10:00:00+00:00",
        "quick": quick,
        "machine": {
            "cpus": 2, "cpu_model": cpu, "platform": "Linux", "python": "3.11", "nginx": "1.22", "wrk": "4.1",
        },
        "settings": {
            "seconds_per_row": 1 if quick else 5, "warmup_seconds": 0 if quick else 1, "wrk_threads": 2,
            "wrk_connections": 32, "stack_workers": 2,
        },
        "command": "python -m tools.bench",
        "wrk_commands": ["wrk -t2 -c32 -d5s --latency http://127.0.0.1/"],
        "middleware_overhead_us": 6.5,
        "in_process_us": {
            "bare_fastapi_ping": 250.0, "site_ping": 260.0, "template_page": 390.0, "dynamic": 650.0,
            "dynamic_split": {"database": 240.0, "template": 200.0, "framework": 210.0},
        },
        "writes_us": {"site_count_view_us": 20.0, "raw_sqlite_upsert_us": 12.0},
        "reload": {
            "edits": 7, "starts": 5, "poll_ms": 20.0,
            "commands": {"site": "uvicorn webapp.main:app --reload --reload-dir webapp",
                         "lesson": "uvicorn main:app --reload"},
            "folders": {"site": ".", "lesson": "lesson"},
            "rows": [
                {**row.__dict__, "median_ms": median, "min_ms": median - 40, "max_ms": median + 300,
                 "runs_ms": [median] * 5, "ratio": round(median / RELOAD_MEDIANS_MS[row.baseline], 3)}
                for row, median in zip(RELOAD_ROWS, RELOAD_MEDIANS_MS.values(), strict=True)
            ],
        },
        "rows": rows,
        "targets": [{**t.__dict__, "ratio": 1.5, "met": t.met(1.5)} for t in TARGETS],
    }  # fmt: skip


def _bench_client(make_client: MakeClient, tmp_path: Path) -> TestClient:
    return make_client(bench_runs_dir=tmp_path / "runs", bench_dir=tmp_path / "reference")


def test_runs_go_to_an_ignored_folder_and_only_publish_writes_the_reference() -> None:
    assert parse_args([]).output == BENCH_RUNS_DIR
    assert parse_args(["--publish"]).output == BENCH_DIR
    assert ".run/" in (BENCH_DIR.parent.parent / ".gitignore").read_text().split()
    assert BENCH_RUNS_DIR.is_relative_to(BENCH_DIR.parent.parent / ".run")


def test_a_quick_run_cannot_be_published(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--quick", "--publish"])
    assert "a --quick run is too rough to publish" in capsys.readouterr().err


def test_bench_page_shows_the_reference_run_until_you_have_your_own(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(cpu="reference cpu"), tmp_path / "reference")
    client = _bench_client(make_client, tmp_path)
    page = client.get("/bench?lang=en").text
    assert "reference cpu" in page
    assert "These are the reference results that come with the project" in page
    assert "<code>.venv/bin/python -m tools.bench</code>" in page

    write_results(_results(cpu="my cpu", quick=True), tmp_path / "runs")
    page = client.get("/bench?lang=en").text
    assert "my cpu" in page and "reference cpu" not in page
    assert "These are the results of your own latest run" in page
    assert 'id="bench-quick"' in page


def test_bench_page_opens_with_what_was_found(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(), tmp_path / "reference")
    client = _bench_client(make_client, tmp_path)
    english = client.get("/bench?lang=en").text
    assert "nginx sent the static page <strong>4 times</strong> as fast as uvicorn" in english
    assert 'id="bench-quick"' not in english
    korean = client.get("/bench?lang=ko").text
    assert "<strong>4배</strong>" in korean


def test_the_chart_has_a_bar_per_case_drawn_to_scale_in_the_pages_language(
    make_client: MakeClient, tmp_path: Path
) -> None:
    write_results(_results(), tmp_path / "reference")
    client = _bench_client(make_client, tmp_path)
    for language, label in (
        ("en", "static page via uvicorn (StaticFiles)"),
        ("ko", "uvicorn이 보내는 정적 페이지(StaticFiles)"),
    ):
        page = client.get(f"/bench?lang={language}").text
        bars = re.findall(r'<rect class="bar bar-(nginx|uvicorn)" x="380" y="\d+" width="([\d.]+)"', page)
        assert len(bars) == len(CASES)
        widths = {case.name: float(width) for case, (_, width) in zip(CASES, bars, strict=True)}
        assert widths["static_nginx"] == pytest.approx(4 * widths["static_uvicorn"], rel=0.01)
        assert f">{label}</text>" in page


def test_the_korean_bench_page_has_no_english_case_or_claim(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(), tmp_path / "reference")
    page = _bench_client(make_client, tmp_path).get("/bench?lang=ko").text
    for english in [case.label for case in CASES] + [target.claim for target in TARGETS]:
        assert english not in page, english
    assert "2026년 11월 28일" in page
    assert "python_ceiling" not in page  # the baseline is named in words, not by its id


def test_bench_page_escapes_what_the_results_file_says(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(cpu="<script>x</script>"), tmp_path / "reference")
    page = _bench_client(make_client, tmp_path).get("/bench").text
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x" not in page


def test_bench_page_without_results_says_how_to_make_them(make_client: MakeClient, tmp_path: Path) -> None:
    page = _bench_client(make_client, tmp_path).get("/bench?lang=en").text
    assert "Nothing has been measured yet. Install the packages of the tests and tools once" in page
    assert "then run <code>.venv/bin/python -m tools.bench</code>" in page


def test_bench_page_shows_where_the_time_of_a_dynamic_page_goes(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(), tmp_path / "reference")
    client = _bench_client(make_client, tmp_path)
    english = client.get("/bench?lang=en").text
    assert "one <code>/dynamic</code> took 650 µs, and <code>/ping</code> 260 µs" in english
    for part in ("framework: routing, dependencies, the response: 210 µs", "template: filling in the HTML: 200 µs"):
        assert part in english
    assert "counting a view takes 20.0 µs, against 12.0 µs for the same statement" in english
    korean = client.get("/bench?lang=ko").text
    assert "<code>/dynamic</code> 요청 1건에 650 µs" in korean
    assert "데이터베이스: 조회수 기록(전용 스레드를 오가는 시간 포함): 240 µs" in korean
    # Every target says its bound the way round it is meant: at least, or at most.
    assert "≤ 1.5" in english and "≥ 0.4" in english


def test_an_older_results_file_without_the_split_still_shows(make_client: MakeClient, tmp_path: Path) -> None:
    results = _results()
    del results["in_process_us"], results["writes_us"]
    write_results(results, tmp_path / "reference")
    page = _bench_client(make_client, tmp_path).get("/bench?lang=en")
    assert page.status_code == 200
    assert 'id="dynamic-split"' not in page.text


def test_bench_page_shows_how_soon_a_code_edit_shows_in_both_languages(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results(), tmp_path / "reference")
    client = _bench_client(make_client, tmp_path)
    english = unescape(client.get("/bench?lang=en").text)
    rows = re.findall(r'<tr>\s*<td>([^<]+)</td>\s*<td class="num">([\d,]+)</td>', english.split('id="reload-title"')[1])
    assert rows[:4] == [
        ("edit to new /ping, the site", "612"),
        ("edit to new /ping, the lesson's app", "520"),
        ("start-up to the first 200, the site", "560"),
        ("start-up to the first 200, the lesson's app", "470"),
    ]
    assert f"1.177 {TIMES} edit to new /ping, the lesson's app" in english
    assert "Median of 7 edits and 5 start-ups for each app" in english
    shown = re.findall(r"<code>(.*?)</code>", english.split('id="reload-title"')[1].split("</table>")[0])
    assert ".venv/bin/uvicorn webapp.main:app --reload --reload-dir webapp" in shown
    assert [problem for command in shown for problem in problems_with(command)] == []  # each runs as shown
    assert "edit to new /ping under uvicorn --reload: the site vs the lesson's app" in english  # the claim
    korean = client.get("/bench?lang=ko").text
    assert "코드 수정부터 새 /ping 응답까지, 수업 코드 그대로의 앱 대비 1.177배" in korean
    assert "앱마다 수정 7번과 시작 5번" in korean


def test_a_results_file_from_before_the_edit_rows_still_shows(make_client: MakeClient, tmp_path: Path) -> None:
    results = _results()
    del results["reload"]
    write_results(results, tmp_path / "reference")
    page = _bench_client(make_client, tmp_path).get("/bench?lang=en")
    assert page.status_code == 200
    assert 'id="reload-title"' not in page.text
    assert "A code edit under uvicorn --reload" not in format_table(results)


def test_the_terminal_table_prints_the_edit_rows_and_their_target() -> None:
    table = format_table(_results())
    assert "A code edit under uvicorn --reload, ms (median of 7 edits and 5 start-ups each" in table
    edit_line = next(line for line in table.splitlines() if line.strip().startswith("edit to new /ping, the site"))
    assert edit_line.split()[6:9] == ["612", "572", "912"]
    assert edit_line.endswith(f"1.177 {TIMES} edit to new /ping, the lesson's app")
    claim = next(line for line in table.splitlines() if "the site vs the lesson's app" in line)
    assert "(target <= 1.3: NOT met)" in claim  # _results() gives every target the ratio 1.5
