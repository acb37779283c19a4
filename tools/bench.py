"""Measure the lesson's claim: a web server in front relieves the web application server.

    python -m tools.bench [--quick] [--duration 5] [--publish]

Starts, on 127.0.0.1: a framework-free ASGI app and nginx serving a file as
baselines, the site on one uvicorn, the site without its middleware, and the
stack (nginx + N workers). Loads each with wrk, measures costs in-process, then
times a code edit under `uvicorn --reload` in the site and in the lesson's own
app (tools/bench_reload.py). Between the two, on the same stack: /live with 100
open streams (tools/bench_live.py). Prints a table with every
figure as a ratio to its baseline from the same run, and writes results.json
to .run/bench/ (ignored by git), which the site shows at /bench. --publish
writes the reference run committed with the project, generated/bench/, instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tools import bench_live, bench_reload, inprocess, nginx
from tools.inprocess import TEMPLATE_PAGE
from tools.processes import (
    HOST,
    PROXY_ARGS,
    ProgramError,
    find_program,
    free_port,
    install_hint,
    refused_on_windows,
    run_uvicorn,
    stop_process,
)
from tools.stack import Stack
from webapp.i18n import DEFAULT_LANGUAGE
from webapp.paths import BENCH_DIR, BENCH_RUNS_DIR, PROJECT_ROOT, STATIC_DIR
from webapp.spectrum import PRERENDERED_FOLDER, PRERENDERED_PATH, prerendered_file
from webapp.terminal import pad
from webapp.terminal import text as _

STATIC_PAGE = "/static/index.html"
# The page the stack pre-renders as it starts: /static/prerendered/dynamic.html.
PRERENDERED_PAGE = f"/static/{PRERENDERED_FOLDER}/{prerendered_file(PRERENDERED_PATH, DEFAULT_LANGUAGE)}"
PAIR_REPEATS = 3
# Pairs whose difference is near the machine's run-to-run noise: measured
# PAIR_REPEATS times, alternating, and each row keeps its median.
CLOSE_PAIRS = (("static_nginx", "nginx_ceiling"), ("ping_direct", "ping_bare_fastapi"))
WRK_THREADS = 2
WRK_CONNECTIONS = 32
LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# Code edits and start-ups timed per app (tools/bench_reload.py): a median of at least 5 in a full run; a
# --quick run keeps the rows with fewer, in about 15 seconds.
RELOAD_EDITS, RELOAD_STARTS = 7, 5
QUICK_RELOAD_EDITS, QUICK_RELOAD_STARTS = 3, 1


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    server: str  # which server answers: "nginx" or "uvicorn"
    target: str  # which running process to load: see Servers.url_for
    path: str
    baseline: str
    revalidate: bool = False


CASES = [
    Case("python_ceiling", "bare ASGI app, /ping (Python ceiling)", "uvicorn", "bare", "/ping", "python_ceiling"),
    Case("nginx_ceiling", "bare nginx, static page (machine ceiling)", "nginx", "nginx", STATIC_PAGE, "nginx_ceiling"),
    Case("static_uvicorn", "static page via uvicorn (StaticFiles)", "uvicorn", "site", STATIC_PAGE, "python_ceiling"),
    Case("static_nginx", "static page via nginx (stack)", "nginx", "stack", STATIC_PAGE, "nginx_ceiling"),
    Case("revalidate_uvicorn", "304 revalidation via uvicorn", "uvicorn", "site", STATIC_PAGE, "python_ceiling", True),
    Case("revalidate_nginx", "304 revalidation via nginx", "nginx", "stack", STATIC_PAGE, "nginx_ceiling", True),
    Case("ping_direct", "/ping direct to one uvicorn", "uvicorn", "site", "/ping", "python_ceiling"),
    Case("ping_nginx", "/ping via nginx to the workers", "uvicorn", "stack", "/ping", "python_ceiling"),
    Case("dynamic_direct", "/dynamic direct to one uvicorn", "uvicorn", "site", "/dynamic", "ping_direct"),
    Case("dynamic_nginx", "/dynamic via nginx to the workers", "uvicorn", "stack", "/dynamic", "python_ceiling"),
    # Between static and dynamic: the same kind of page kept by nginx for a second, or made into a file.
    Case(
        "dynamic_microcached",
        "/dynamic/shared via nginx, kept 1 s (micro-cache)",
        "nginx",
        "stack",
        "/dynamic/shared",
        "static_nginx",
    ),
    Case(
        "prerendered_nginx",
        "/dynamic pre-rendered into a file, via nginx",
        "nginx",
        "stack",
        PRERENDERED_PAGE,
        "dynamic_nginx",
    ),
    Case(
        "ping_bare_fastapi",
        "the lesson's /ping on a bare FastAPI app",
        "uvicorn",
        "bare_fastapi",
        "/ping",
        "python_ceiling",
    ),
    Case(
        "template_direct",
        "a template page without the database, direct",
        "uvicorn",
        "site",
        TEMPLATE_PAGE,
        "ping_direct",
    ),
]


@dataclass(frozen=True)
class Target:
    """A claim, as the ratio of two figures of one run that must reach `at_least` (or stay within `at_most`).

    Figures are named by where they come from: `wrk.<case>` requests per second,
    `cpu.<case>` server CPU microseconds per request, `in_process.<page>` and
    `writes.<kind>` microseconds per request (see tools/inprocess.py), `reload.<row>`
    milliseconds, the median (see tools/bench_reload.py).
    """

    name: str
    claim: str
    numerator: str
    denominator: str
    at_least: float | None = None
    at_most: float | None = None

    def met(self, ratio: float) -> bool:
        return (self.at_least is None or ratio >= self.at_least) and (self.at_most is None or ratio <= self.at_most)


TARGETS = [
    Target("static_speedup", "static through nginx vs through uvicorn", "wrk.static_nginx", "wrk.static_uvicorn", 20.0),
    Target("our_nginx", "static through our nginx config vs bare nginx", "wrk.static_nginx", "wrk.nginx_ceiling", 0.8),
    # The share of one /ping's time left for all but the middleware, from the in-process overhead and the wrk rate.
    Target(
        "middleware", "/ping throughput left after the site's middleware", "middleware", "wrk.ping_bare_fastapi", 0.9
    ),
    Target(
        "dynamic_workers",
        "/dynamic via nginx to the workers vs direct to one uvicorn",
        "wrk.dynamic_nginx",
        "wrk.dynamic_direct",
        0.8,
    ),
    Target(
        "ping_in_process",
        "the site's /ping speed vs the lesson's /ping on bare FastAPI, in-process",
        "in_process.bare_fastapi_ping",
        "in_process.site_ping",
        0.9,
    ),
    Target(
        "ping_cpu",
        "the site's /ping speed vs the lesson's /ping on bare FastAPI, by server CPU",
        "cpu.ping_bare_fastapi",
        "cpu.ping_direct",
        0.9,
    ),
    Target(
        "template_cost",
        "a template page without the database vs the site's /ping, cost in-process",
        "in_process.template_page",
        "in_process.site_ping",
        at_most=1.5,
    ),
    Target(
        "dynamic_cost",
        "/dynamic vs the site's /ping, cost in-process",
        "in_process.dynamic",
        "in_process.site_ping",
        at_most=2.5,
    ),
    Target(
        "dynamic_throughput",
        "/dynamic vs /ping, requests per second direct to one uvicorn",
        "wrk.dynamic_direct",
        "wrk.ping_direct",
        0.4,
    ),
    Target(
        "microcache_vs_static",
        "micro-cached /dynamic/shared vs a static file, both via nginx",
        "wrk.dynamic_microcached",
        "wrk.static_nginx",
        0.5,
    ),
    Target(
        "microcache_vs_made",
        "micro-cached /dynamic/shared vs /dynamic made every time, both via nginx",
        "wrk.dynamic_microcached",
        "wrk.dynamic_nginx",
        10.0,
    ),
    Target(
        "prerendered_vs_live",
        "/dynamic pre-rendered into a file vs the live /dynamic, both via nginx",
        "wrk.prerendered_nginx",
        "wrk.dynamic_nginx",
        10.0,
    ),
    Target(
        "view_write",
        "a page-view write vs the same upsert through sqlite3",
        "writes.site_count_view_us",
        "writes.raw_sqlite_upsert_us",
        at_most=3.0,
    ),
    Target(
        "edit_to_ping",
        "edit to new /ping under uvicorn --reload: the site vs the lesson's app",
        "reload.site_edit",
        "reload.lesson_edit",
        at_most=1.3,
    ),
]


def parse_wrk(output: str) -> dict[str, float]:
    """Given wrk --latency output, return requests/s, p50 and p99 latency (ms) and the error count."""

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk printed no {percentile}% latency:\n{output}")
        return round(float(match.group(1)) * LATENCY_UNITS_MS[match.group(2)], 3)

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not rate:
        raise ValueError(f"wrk printed no Requests/sec:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    return {
        "requests": int(total.group(1)) if total else 0,
        "requests_per_second": float(rate.group(1)),
        "latency_p50_ms": latency("50"),
        "latency_p99_ms": latency("99"),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


class Servers:
    """Every server the benchmark loads, started on free loopback ports and stopped at the end."""

    def __init__(self, run_dir: Path, workers: int) -> None:
        self.run_dir = run_dir
        # The site counts page views in its database: measure with a fresh one, not the learner's.
        self.env = {"DATABASE_URL": f"sqlite:///{run_dir / 'bench.db'}"}
        self.workers = workers
        self.ports: dict[str, int] = {}
        self.pids: dict[str, int] = {}  # the single-process servers, whose CPU time per request is measured
        self._exit = ExitStack()

    def __enter__(self) -> Servers:
        try:
            self._start_uvicorn("bare", "tools.bench_apps:bare_app")
            self._start_uvicorn("bare_fastapi", "tools.bench_apps:bare_fastapi", "--factory")
            self._start_uvicorn("site", "webapp.main:app")
            self._start_bare_nginx()
            self._start_stack()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def url_for(self, target: str, path: str) -> str:
        return f"http://{HOST}:{self.ports[target]}{path}"

    def _start_uvicorn(self, name: str, app: str, *extra_args: str) -> None:
        # The same uvicorn and flags as the stack's workers, access log included:
        # the lesson shows that log, so every uvicorn figure here pays for it.
        server = self._exit.enter_context(
            run_uvicorn(
                *PROXY_ARGS, *extra_args, app=app, cwd=self.run_dir, env=self.env, log_path=self.run_dir / f"{name}.log"
            )
        )
        self.ports[name] = server.port
        self.pids[name] = server.process.pid

    def _start_bare_nginx(self) -> None:
        nginx_path = nginx.nginx_program()
        run_dir = self.run_dir / "bare-nginx"
        port = free_port()
        # The same files the stack's nginx serves (a mirror when its workers, run as nobody, cannot reach static/).
        static_dir, mirror = nginx.static_dir_for_workers(STATIC_DIR)
        if mirror is not None:
            self._exit.callback(shutil.rmtree, mirror, True)
        config = nginx.render_config(nginx.BARE_TEMPLATE, run_dir=run_dir, http_port=port, static_dir=static_dir)
        process = nginx.start_nginx(nginx_path, config, run_dir, [port], what="bare nginx")
        self._exit.callback(stop_process, process)
        self.ports["nginx"] = port

    def _start_stack(self) -> None:
        stack = Stack(
            workers=self.workers,
            http_port=free_port(),
            https_port=free_port(),
            run_dir=self.run_dir / "stack",
            worker_logs=True,
            worker_env=self.env,
        )
        self._exit.callback(stack.stop)
        stack.start()
        self.ports["stack"] = stack.http_port


def shown_python() -> str:
    """This Python as a reader would type it from the checkout: .venv/bin/python, say."""
    executable = Path(sys.executable)
    return str(executable.relative_to(PROJECT_ROOT)) if executable.is_relative_to(PROJECT_ROOT) else executable.name


def run_wrk(wrk: str, url: str, *, seconds: float, headers: dict[str, str]) -> tuple[list[str], dict[str, float]]:
    command = [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30)
    return command, parse_wrk(result.stdout)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) a process has used so far, or None where it cannot be read."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    result = subprocess.run(["ps", "-o", "time=", "-p", str(pid)], capture_output=True, text=True)  # macOS
    parts = result.stdout.strip().replace("-", ":").split(":")
    if result.returncode or not parts[0]:
        return None
    return sum(float(part) * unit for part, unit in zip(reversed(parts), (1, 60, 3600, 86400), strict=False))


def machine_facts(wrk: str) -> dict[str, Any]:
    cpu_model = ""
    if os.path.exists("/proc/cpuinfo"):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu_model = match.group(1) if match else ""
    nginx = find_program("nginx")
    nginx_version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip() if nginx else ""
    wrk_banner = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    wrk_version = re.sub(r"\s*(\[|Copyright).*", "", wrk_banner).strip()  # "wrk debian/4.1.0-3+b2"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nginx": nginx_version.removeprefix("nginx version: "),
        "wrk": wrk_version,
    }


def measure(*, seconds: float, warmup: float, workers: int, run_dir: Path, quick: bool = False) -> dict[str, Any]:
    wrk = find_program("wrk")
    if wrk is None:
        raise ProgramError(install_hint("wrk"))
    rows, commands = [], []
    with Servers(run_dir, workers) as servers:

        def load(case: Case) -> dict[str, Any]:
            url = servers.url_for(case.target, case.path)
            headers: dict[str, str] = {}
            if case.revalidate:
                headers["If-None-Match"] = httpx.get(url).headers["etag"]
            if warmup:
                run_wrk(wrk, url, seconds=warmup, headers=headers)
            pid = servers.pids.get(case.target)
            cpu_before = cpu_seconds(pid) if pid else None
            command, figures = run_wrk(wrk, url, seconds=seconds, headers=headers)
            cpu_after = cpu_seconds(pid) if pid else None
            if cpu_before is not None and cpu_after is not None and figures["requests"]:
                figures["cpu_us_per_request"] = round((cpu_after - cpu_before) / figures["requests"] * 1e6, 1)
            commands.append(shlex.join(command))  # pasted into a shell, -H 'If-None-Match: "…"' stays one argument
            print(f"  {pad(_(case.label), 52)} {figures['requests_per_second']:>10,.0f} req/s", flush=True)
            return {"url": url, **figures}

        runs = {case.name: [load(case)] for case in CASES}
        by_case = {case.name: case for case in CASES}
        for _repeat in range(PAIR_REPEATS - 1):
            for pair in CLOSE_PAIRS:
                for name in pair:
                    runs[name].append(load(by_case[name]))
        for case in CASES:
            ordered = sorted(runs[case.name], key=lambda run: run["requests_per_second"])
            median = ordered[len(ordered) // 2]
            rows.append({**asdict(case), **median, "runs": [run["requests_per_second"] for run in runs[case.name]]})
        static_page = servers.url_for("stack", STATIC_PAGE)
        live = bench_live.measure(
            servers.ports["stack"],
            servers.run_dir / "stack",
            lambda duration: run_wrk(wrk, static_page, seconds=duration, headers={})[1],
            cpu_seconds,
            seconds=seconds,
            warmup=warmup,
            quick=quick,
        )

    by_name = {row["name"]: row for row in rows}
    for row in rows:
        baseline = by_name[row["baseline"]]["requests_per_second"]
        row["ratio"] = round(row["requests_per_second"] / baseline, 3) if baseline else None
    print("  " + _("in-process: the site's middleware, the pages, the page-view write ..."), flush=True)
    overhead_us = inprocess.measure_middleware()
    in_process = inprocess.measure_pages(run_dir)
    writes = inprocess.measure_view_writes(run_dir)
    print("  " + _("a code edit under uvicorn --reload, the site and the lesson's app, taking turns ..."), flush=True)
    edits, starts = (QUICK_RELOAD_EDITS, QUICK_RELOAD_STARTS) if quick else (RELOAD_EDITS, RELOAD_STARTS)
    reload = bench_reload.measure(run_dir, edits=edits, starts=starts)
    figures = {
        **{f"wrk.{row['name']}": row["requests_per_second"] for row in rows},
        **{f"cpu.{row['name']}": row["cpu_us_per_request"] for row in rows if "cpu_us_per_request" in row},
        **{f"in_process.{name}": value for name, value in in_process.items() if isinstance(value, float)},
        **{f"writes.{name}": value for name, value in writes.items()},
        **{f"reload.{row['name']}": row["median_ms"] for row in reload["rows"]},
    }
    targets = [{**asdict(target), **_ratio(target, figures, overhead_us)} for target in TARGETS]
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine_facts(wrk),
        "settings": {
            "seconds_per_row": seconds,
            "warmup_seconds": warmup,
            "wrk_threads": WRK_THREADS,
            "wrk_connections": WRK_CONNECTIONS,
            "stack_workers": workers,
        },
        "command": " ".join([shown_python(), "-m", "tools.bench", *sys.argv[1:]]),
        "wrk_commands": commands,
        "middleware_overhead_us": overhead_us,
        "in_process_us": in_process,
        "writes_us": writes,
        "reload": reload,
        "live": live,
        "rows": rows,
        "targets": targets,
    }


def _ratio(target: Target, figures: dict[str, float], overhead_us: float) -> dict[str, Any]:
    denominator = figures.get(target.denominator)
    if target.numerator == "middleware" and denominator:
        ratio: float | None = round(1 - overhead_us * denominator / 1_000_000, 3)
    else:
        numerator = figures.get(target.numerator)
        ratio = round(numerator / denominator, 3) if numerator and denominator else None
    return {"ratio": ratio, "met": ratio is not None and target.met(ratio)}


def claim_text(target: dict[str, Any]) -> str:
    claim: str = target["claim"]
    return _(claim)


def format_table(results: dict[str, Any]) -> str:
    labels = {name: _(label) for name, label in ((row["name"], row["label"]) for row in results["rows"])}
    header = [
        pad(_("case"), 52),
        pad(_("req/s"), 10, right=True),
        pad("p50 ms", 8, right=True),
        pad("p99 ms", 8, right=True),
        pad(_("errors"), 6, right=True),
        pad("CPU µs", 7, right=True),
        " " + _("ratio to baseline"),
    ]
    lines = [" ".join(header), "-" * 118]
    for row in results["rows"]:
        ratio = _ratio_cell(row, labels)
        cpu = f"{row['cpu_us_per_request']:>7.0f}" if "cpu_us_per_request" in row else f"{'':>7}"
        lines.append(
            f"{pad(labels[row['name']], 52)} {row['requests_per_second']:>10,.0f} {row['latency_p50_ms']:>8.2f} "
            f"{row['latency_p99_ms']:>8.2f} {row['errors']:>6} {cpu}  {ratio}"
        )
    paired = ", ".join(" / ".join(labels[name] for name in pair) for pair in CLOSE_PAIRS)
    lines.append(
        _("(%(pairs)s: median of %(repeats)s alternating runs each; CPU µs: the server's, per request)")
        % {"pairs": paired, "repeats": PAIR_REPEATS}
    )
    lines += ["", _("In-process, µs per request (no sockets; tools/inprocess.py):")]
    lines.append("  " + _("site middleware %(us)s") % {"us": f"{results['middleware_overhead_us']:.1f}"})
    pages = results["in_process_us"]
    for name in ("bare_fastapi_ping", "site_ping", "template_page", "dynamic"):
        lines.append(f"  {name:<18} {pages[name]:>8.1f}")
    split = pages["dynamic_split"]
    lines.append(
        "  "
        + _("/dynamic's split: database %(database)s, template %(template)s, framework and the rest %(framework)s")
        % {key: f"{split[key]:.0f}" for key in ("database", "template", "framework")}
    )
    writes = results["writes_us"]
    lines.append(
        "  "
        + _("page-view write %(site)s; the same upsert through sqlite3 %(raw)s")
        % {"site": f"{writes['site_count_view_us']:.1f}", "raw": f"{writes['raw_sqlite_upsert_us']:.1f}"}
    )
    if "reload" in results:  # not in runs made before it was measured (the reference run, say)
        lines += ["", *format_reload(results["reload"])]
    if "live" in results:  # likewise
        lines += ["", *bench_live.format_live(results["live"])]
    lines += ["", _("The claims, as ratios from this run:")]
    for target in [*results["targets"], *results.get("live", {}).get("targets", [])]:
        verdict = _("met") if target["met"] else _("NOT met")
        bound = f">= {target['at_least']:g}" if target["at_least"] is not None else f"<= {target['at_most']:g}"
        ratio = "n/a" if target["ratio"] is None else f"{target['ratio']:.2f}"
        lines.append(
            f"  {pad(claim_text(target), 78)} {ratio:>6}  "
            + _("(target %(bound)s: %(verdict)s)") % {"bound": bound, "verdict": verdict}
        )
    return "\n".join(lines)


def format_reload(reload: dict[str, Any]) -> list[str]:
    """The edit and start-up rows: milliseconds, and each as a ratio to the lesson's app."""
    labels = {name: _(label) for name, label in ((row["name"], row["label"]) for row in reload["rows"])}
    header = [
        pad(_("case"), 50),
        pad(_("median"), 8, right=True),
        pad(_("fastest"), 8, right=True),
        pad(_("slowest"), 8, right=True),
        " " + _("ratio to baseline"),
    ]
    lines = [
        _(
            "A code edit under uvicorn --reload, ms (median of %(edits)s edits and %(starts)s start-ups each, "
            "/ping asked every %(poll)s ms):"
        )
        % {"edits": reload["edits"], "starts": reload["starts"], "poll": f"{reload['poll_ms']:g}"},
        "  " + " ".join(header),
    ]
    for row in reload["rows"]:
        ratio = _ratio_cell(row, labels)
        times = " ".join(f"{row[key]:>8,.0f}" for key in ("median_ms", "min_ms", "max_ms"))
        lines.append(f"  {pad(labels[row['name']], 50)} {times}  {ratio}")
    return lines


def write_results(results: dict[str, Any], output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / "results.json"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return json_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=_("Measure the lesson's claim: a web server in front relieves the web application server."),
    )
    parser.add_argument("--duration", type=float, default=5.0, help=_("seconds of load per case (default 5)"))
    parser.add_argument("--warmup", type=float, default=1.0, help=_("seconds of load before each case (default 1)"))
    parser.add_argument("--quick", action="store_true", help=_("1 second per case, no warm-up: for tests"))
    parser.add_argument("--workers", type=int, default=2, help=_("uvicorn workers behind nginx (default 2)"))
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--output",
        type=Path,
        default=BENCH_RUNS_DIR,
        help=_("where to write results.json (default %(default)s)") % {"default": BENCH_RUNS_DIR},
    )
    where.add_argument(
        "--publish",
        action="store_const",
        dest="output",
        const=BENCH_DIR,
        help=_("write the reference run committed with the project, %(default)s, on purpose") % {"default": BENCH_DIR},
    )
    args = parser.parse_args(argv)
    if args.quick and args.output == BENCH_DIR:
        parser.error(_("a --quick run is too rough to publish as the reference run"))
    if args.quick:
        args.duration, args.warmup = 1.0, 0.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if refused_on_windows("python -m tools.bench"):
        return 1
    print(
        _("Measuring %(count)s cases, %(seconds)s s each, on %(host)s ...")
        % {"count": len(CASES), "seconds": f"{args.duration:g}", "host": HOST},
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="webapp-bench-") as run_dir:
            results = measure(
                seconds=args.duration, warmup=args.warmup, workers=args.workers, run_dir=Path(run_dir), quick=args.quick
            )
    except ProgramError as error:
        print(_("Cannot run the benchmark: %(error)s") % {"error": error}, file=sys.stderr)
        return 1
    print()
    print(format_table(results))
    json_path = write_results(results, args.output)
    print("\n" + _("Wrote %(path)s; the site shows it at /bench.") % {"path": json_path})
    return 0


def _ratio_cell(row: dict[str, Any], labels: dict[str, str]) -> str:
    """Given a row of the table and the rows' labels, return its ratio to its baseline as the table says it."""
    if row["name"] == row["baseline"]:
        return _("baseline")
    return _("%(ratio)s × %(baseline)s") % {  # noqa: RUF001 (the page's own sign, from its catalogue)
        "ratio": f"{row['ratio']:.3f}",
        "baseline": labels[row["baseline"]],
    }


if __name__ == "__main__":
    sys.exit(main())
