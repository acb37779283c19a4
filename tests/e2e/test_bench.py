"""One real run of the benchmark, as `python -m tools.bench --quick`."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import require_program
from tools.bench import CASES, CLOSE_PAIRS, PAIR_REPEATS, QUICK_RELOAD_EDITS, QUICK_RELOAD_STARTS, TARGETS
from tools.bench_live import CLAIMS as LIVE_CLAIMS
from tools.bench_live import QUICK_MEMORY_SECONDS, QUICK_PAIRS, STREAMS
from tools.bench_reload import ROWS as RELOAD_ROWS
from tools.bench_reload import WAIT_SECONDS
from webapp.paths import PROJECT_ROOT


def test_quick_benchmark_run_measures_every_case(tmp_path: Path) -> None:
    require_program("nginx")
    require_program("wrk")
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--quick", "--output", str(output)],
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
    pages = results["in_process_us"]
    assert pages["bare_fastapi_ping"] > 0 and 0 < pages["site_ping"] < pages["dynamic"]
    assert sum(pages["dynamic_split"].values()) == pytest.approx(pages["dynamic"], rel=0.01)
    assert results["writes_us"]["raw_sqlite_upsert_us"] > 0 and results["writes_us"]["site_count_view_us"] > 0
    # The server's CPU time per request, for each row served by a single uvicorn process.
    single = {"python_ceiling", "static_uvicorn", "revalidate_uvicorn", "ping_direct", "dynamic_direct"}
    single |= {"ping_bare_fastapi", "template_direct"}
    assert {row["name"] for row in results["rows"] if row.get("cpu_us_per_request", 0) > 0} == single
    assert all(target["ratio"] is not None for target in results["targets"])
    repeated = {row["name"]: len(row["runs"]) for row in results["rows"] if len(row["runs"]) > 1}
    paired = [name for pair in CLOSE_PAIRS for name in pair]
    assert repeated == dict.fromkeys(paired, PAIR_REPEATS)
    assert len(results["wrk_commands"]) == len(CASES) + (PAIR_REPEATS - 1) * len(paired)
    # /bench shows these to copy into a shell: the revalidation header must arrive as one argument.
    revalidations = [shlex.split(command) for command in results["wrk_commands"] if "If-None-Match" in command]
    assert revalidations and all(
        re.fullmatch(r'If-None-Match: (W/)?"[^"]+"', words[words.index("-H") + 1]) for words in revalidations
    )
    assert "static through nginx vs through uvicorn" in result.stdout
    # A code edit under --reload, the site and the lesson's app side by side: fewer edits, the same rows.
    reload = results["reload"]
    assert [row["name"] for row in reload["rows"]] == [row.name for row in RELOAD_ROWS]
    assert (reload["edits"], reload["starts"]) == (QUICK_RELOAD_EDITS, QUICK_RELOAD_STARTS)
    for row in reload["rows"]:
        assert len(row["runs_ms"]) == (reload["edits"] if row["name"].endswith("_edit") else reload["starts"]), row
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"] < WAIT_SECONDS * 1000, row
        assert row["ratio"] > 0, row
    edit_target = next(target for target in results["targets"] if target["name"] == "edit_to_ping")
    assert edit_target["ratio"] == pytest.approx(
        reload["rows"][0]["median_ms"] / reload["rows"][1]["median_ms"], abs=0.01
    )
    assert "edit to new /ping, the lesson's app" in result.stdout
    # /live on the same stack (tools/bench_live.py): 100 streams read while wrk loads it, each figure with its baseline.
    live = results["live"]
    assert [target["name"] for target in live["targets"]] == [claim.name for claim in LIVE_CLAIMS]
    assert all(target["ratio"] > 0 for target in live["targets"])
    assert (live["streams"], live["pairs"], live["memory_seconds"]) == (STREAMS, QUICK_PAIRS, QUICK_MEMORY_SECONDS)
    assert all(len(runs) == QUICK_PAIRS and min(runs) > 0 for runs in live["runs"].values())
    figures, delays = live["figures"], live["delays"]
    assert 0 < figures["delay_idle_p99_ms"] < 10_000 and 0 < figures["delay_p99_ms"] < 10_000  # a shared machine
    assert delays["events_timed"] > 0 and delays["events_timed_idle"] > 0 and delays["probes_sent"] > 0
    assert delays["probes_failed"] == 0
    assert figures["rss_idle_kib"] > 0 and figures["rss_with_streams_kib"] > 0
    assert "static via nginx with 100 open /live streams vs without them" in result.stdout
    assert "p99 delay of a request event shown under the flood, ms" in result.stdout
    assert results["quick"] is True  # /bench marks it as rough
    assert results["command"].endswith(" -m tools.bench --quick --output " + str(output))
    assert sorted(path.name for path in output.iterdir()) == ["results.json"]
