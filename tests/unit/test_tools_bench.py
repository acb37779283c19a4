"""The benchmark's parsing and chart, and the /bench page that shows its results."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.unit.conftest import MakeClient
from tools.bench import CASES, TARGETS, parse_wrk, write_results
from tools.bench_chart import render_chart

SVG = "{http://www.w3.org/2000/svg}"

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
        "requests_per_second": 43634.12,
        "latency_p50_ms": 0.412,
        "latency_p99_ms": 5.07,
        "errors": 7,
    }


def test_parse_wrk_refuses_output_without_figures() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def _results(label_of_first: str = "bare ASGI app") -> dict:
    rows = [
        {**case.__dict__, "label": label_of_first if i == 0 else case.label, "url": "http://127.0.0.1/",
         "requests_per_second": 1000.0 * (i + 1), "latency_p50_ms": 1.0, "latency_p99_ms": 2.0,
         "errors": 0, "ratio": 1.0, "runs": [1000.0 * (i + 1)]}
        for i, case in enumerate(CASES)
    ]  # fmt: skip
    return {
        "date": "2026-11-28T10:00:00+00:00",
        "machine": {
            "cpus": 2, "cpu_model": "test cpu", "platform": "Linux", "python": "3.11", "nginx": "1.22", "wrk": "4.1",
        },
        "settings": {
            "seconds_per_row": 5, "warmup_seconds": 1, "wrk_threads": 2, "wrk_connections": 32, "stack_workers": 2,
        },
        "command": "python -m tools.bench",
        "wrk_commands": ["wrk -t2 -c32 -d5s --latency http://127.0.0.1/"],
        "middleware_overhead_us": 6.5,
        "rows": rows,
        "targets": [{**t.__dict__, "ratio": 1.5, "met": t.at_least <= 1.5} for t in TARGETS],
    }  # fmt: skip


def test_chart_has_one_bar_per_row_scaled_to_the_fastest() -> None:
    svg = ElementTree.fromstring(render_chart(_results("<b>escaped</b> & fine")))
    bars = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("height") == "22"]
    assert len(bars) == len(CASES)
    widths = [float(bar.get("width")) for bar in bars]
    assert widths == sorted(widths)  # the fake rates grow row by row
    assert "<b>escaped</b> & fine" in [text.text for text in svg.iter(f"{SVG}text")]


def test_bench_page_shows_the_latest_results(make_client: MakeClient, tmp_path: Path) -> None:
    write_results(_results("<script>x</script>"), tmp_path / "bench")
    client = make_client(bench_dir=tmp_path / "bench")
    page = client.get("/bench").text
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "test cpu" in page
    assert "6.5 µs" in page
    assert "static through nginx vs through uvicorn" in page
    chart = client.get("/bench/chart.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"


def test_bench_page_without_results_says_how_to_make_them(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(bench_dir=tmp_path / "empty")
    assert "python -m tools.bench" in client.get("/bench").text
    assert client.get("/bench/chart.svg").status_code == 404
