"""The benchmark: its parsing, its chart, its page, and one real --quick run."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import PROJECT_ROOT, require_program
from webapp.bench import CASES, CLOSE_PAIRS, PAIR_REPEATS, TARGETS, parse_wrk, write_results
from webapp.benchchart import render_chart
from webapp.main import create_app
from webapp.settings import Settings

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
        "command": "python -m webapp.bench",
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


def test_bench_page_shows_the_latest_results(site_dirs: Settings, tmp_path: Path) -> None:
    write_results(_results("<script>x</script>"), tmp_path / "bench")
    client = TestClient(create_app(replace(site_dirs, bench_dir=tmp_path / "bench")))
    page = client.get("/bench").text
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "test cpu" in page
    assert "6.5 µs" in page
    assert "static through nginx vs through uvicorn" in page
    chart = client.get("/bench/chart.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"


def test_bench_page_without_results_says_how_to_make_them(site_dirs: Settings, tmp_path: Path) -> None:
    client = TestClient(create_app(replace(site_dirs, bench_dir=tmp_path / "empty")))
    assert "python -m webapp.bench" in client.get("/bench").text
    assert client.get("/bench/chart.svg").status_code == 404


@pytest.mark.e2e
def test_quick_benchmark_run_measures_every_case(tmp_path: Path) -> None:
    require_program("nginx")
    require_program("wrk")
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "webapp.bench", "--quick", "--output", str(output)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((output / "results.json").read_text())
    assert [row["name"] for row in results["rows"]] == [case.name for case in CASES]
    for row in results["rows"]:
        assert row["requests_per_second"] > 0, row
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"], row
        assert row["errors"] == 0, row
        assert row["ratio"] > 0, row
    assert [t["claim"] for t in results["targets"]] == [t.claim for t in TARGETS]
    assert all(t["ratio"] > 0 for t in results["targets"])
    assert 0 <= results["middleware_overhead_us"] < 1000
    repeated = {row["name"]: len(row["runs"]) for row in results["rows"] if len(row["runs"]) > 1}
    paired = [name for pair in CLOSE_PAIRS for name in pair]
    assert repeated == dict.fromkeys(paired, PAIR_REPEATS)
    assert len(results["wrk_commands"]) == len(CASES) + (PAIR_REPEATS - 1) * len(paired)
    assert "static through nginx vs through uvicorn" in result.stdout
    svg = ElementTree.parse(output / "chart.svg").getroot()
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("height") == "22"]) == len(CASES)
