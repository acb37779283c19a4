"""Measure the lesson's claim: a web server in front relieves the web application server.

    python -m tools.bench [--quick] [--duration 5] [--publish]

Starts, on 127.0.0.1: a framework-free ASGI app and nginx serving a file as
baselines, the site on one uvicorn, the site without its middleware, and the
stack (nginx + N workers). Loads each with wrk, prints a table with every
figure as a ratio to its baseline from the same run, and writes results.json
to .run/bench/ (ignored by git), which the site shows at /bench. --publish
writes the reference run committed with the project, generated/bench/, instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools import nginx
from tools.bench_apps import PONG, PONG_HEADERS
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
from webapp.middleware import site_middleware
from webapp.paths import BENCH_DIR, BENCH_RUNS_DIR, PROJECT_ROOT, STATIC_DIR
from webapp.requestlog import RequestLog
from webapp.settings import DEFAULT_REQUEST_LOG_SIZE, Settings

STATIC_PAGE = "/static/index.html"
PAIR_REPEATS = 3
# Pairs whose difference is near the machine's run-to-run noise: measured
# PAIR_REPEATS times, alternating, and each row keeps its median.
CLOSE_PAIRS = (("static_nginx", "nginx_ceiling"), ("ping_direct", "ping_no_middleware"))
IN_PROCESS_CALLS = 2000
IN_PROCESS_ROUNDS = 7
WRK_THREADS = 2
WRK_CONNECTIONS = 32
LATENCY_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


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
    Case("dynamic_direct", "/dynamic direct to one uvicorn", "uvicorn", "site", "/dynamic", "python_ceiling"),
    Case("dynamic_nginx", "/dynamic via nginx to the workers", "uvicorn", "stack", "/dynamic", "python_ceiling"),
    Case("ping_no_middleware", "/ping, no site middleware", "uvicorn", "no_middleware", "/ping", "python_ceiling"),
]  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A claim of the lesson, as a ratio of two rows that must reach `at_least`."""

    name: str
    claim: str
    numerator: str
    denominator: str
    at_least: float


TARGETS = [
    Target("static_speedup", "static through nginx vs through uvicorn", "static_nginx", "static_uvicorn", 20.0),
    Target("our_nginx", "static through our nginx config vs bare nginx", "static_nginx", "nginx_ceiling", 0.8),
    # Computed from an in-process measurement, not from two wrk rows (see measure_middleware).
    Target("middleware", "/ping throughput left after the site's middleware", "middleware", "ping_no_middleware", 0.9),
    Target(
        "dynamic_workers",
        "/dynamic via nginx to the workers vs direct to one uvicorn",
        "dynamic_nginx",
        "dynamic_direct",
        0.8,
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
    return {
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
        self._exit = ExitStack()

    def __enter__(self) -> Servers:
        try:
            self._start_uvicorn("bare", "tools.bench_apps:bare_app")
            self._start_uvicorn("no_middleware", "tools.bench_apps:ping_without_middleware", "--factory")
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

    def _start_bare_nginx(self) -> None:
        nginx_path = nginx.nginx_program()
        run_dir = self.run_dir / "bare-nginx"
        port = free_port()
        config = nginx.render_config(nginx.BARE_TEMPLATE, run_dir=run_dir, http_port=port, static_dir=STATIC_DIR)
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
            command, figures = run_wrk(wrk, url, seconds=seconds, headers=headers)
            commands.append(" ".join(command))
            print(f"  {case.label:<52} {figures['requests_per_second']:>10,.0f} req/s", flush=True)
            return {"url": url, **figures}

        runs = {case.name: [load(case)] for case in CASES}
        by_case = {case.name: case for case in CASES}
        for _ in range(PAIR_REPEATS - 1):
            for pair in CLOSE_PAIRS:
                for name in pair:
                    runs[name].append(load(by_case[name]))
        for case in CASES:
            ordered = sorted(runs[case.name], key=lambda run: run["requests_per_second"])
            median = ordered[len(ordered) // 2]
            rows.append({**asdict(case), **median, "runs": [run["requests_per_second"] for run in runs[case.name]]})

    by_name = {row["name"]: row for row in rows}
    for row in rows:
        baseline = by_name[row["baseline"]]["requests_per_second"]
        row["ratio"] = round(row["requests_per_second"] / baseline, 3) if baseline else None
    overhead_us = measure_middleware()
    targets = []
    for target in TARGETS:
        denominator = by_name[target.denominator]["requests_per_second"]
        if target.numerator == "middleware":
            # The share of one /ping request's time left for everything but the middleware.
            ratio = round(1 - overhead_us * denominator / 1_000_000, 3)
        else:
            ratio = round(by_name[target.numerator]["requests_per_second"] / denominator, 3) if denominator else 0.0
        targets.append({**asdict(target), "ratio": ratio, "met": ratio >= target.at_least})
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
        "rows": rows,
        "targets": targets,
    }


async def _answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": PONG_HEADERS})
    await send({"type": "http.response.body", "body": PONG})


def measure_middleware() -> float:
    """Return the microseconds the site's middleware adds to one request: the median of
    alternating in-process rounds, an app that only answers with and without it."""
    wrapped: ASGIApp = _answer_ok
    for middleware_class, args, kwargs in reversed(site_middleware(Settings(), RequestLog(DEFAULT_REQUEST_LOG_SIZE))):
        wrapped = middleware_class(wrapped, *args, **kwargs)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/ping", "raw_path": b"/ping", "query_string": b"", "root_path": "",
        "headers": [(b"host", HOST.encode()), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        "client": (HOST, 50000), "server": (HOST, 8000),
    }  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def discard(message: Message) -> None:
        pass

    async def microseconds_per_call(app: ASGIApp) -> float:
        started = time.perf_counter()
        for _ in range(IN_PROCESS_CALLS):
            await app(dict(scope), receive, discard)
        return (time.perf_counter() - started) / IN_PROCESS_CALLS * 1_000_000

    async def rounds() -> float:
        with_middleware, without = [], []
        for _ in range(IN_PROCESS_ROUNDS):
            with_middleware.append(await microseconds_per_call(wrapped))
            without.append(await microseconds_per_call(_answer_ok))
        return statistics.median(with_middleware) - statistics.median(without)

    overhead = round(max(0.0, asyncio.run(rounds())), 2)
    print(f"  site middleware, in-process: {overhead:.1f} µs per request", flush=True)
    return overhead


def format_table(results: dict[str, Any]) -> str:
    lines = [
        f"{'case':<52} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  ratio to baseline",
        "-" * 110,
    ]
    for row in results["rows"]:
        ratio = "baseline" if row["name"] == row["baseline"] else f"{row['ratio']:.3f} x {row['baseline']}"
        lines.append(
            f"{row['label']:<52} {row['requests_per_second']:>10,.0f} {row['latency_p50_ms']:>8.2f} "
            f"{row['latency_p99_ms']:>8.2f} {row['errors']:>6}  {ratio}"
        )
    paired = ", ".join(" and ".join(pair) for pair in CLOSE_PAIRS)
    lines.append(f"({paired}: median of {PAIR_REPEATS} alternating runs each)")
    lines.append(f"site middleware, measured in-process: {results['middleware_overhead_us']:.1f} µs per request")
    lines += ["", "The lesson's claims, as ratios from this run:"]
    for target in results["targets"]:
        verdict = "met" if target["met"] else "NOT met"
        lines.append(f"  {target['claim']:<62} {target['ratio']:>8.2f}  (target >= {target['at_least']:g}: {verdict})")
    return "\n".join(lines)


def write_results(results: dict[str, Any], output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / "results.json"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return json_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per case (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each case (default 1)")
    parser.add_argument("--quick", action="store_true", help="1 second per case, no warm-up: for tests")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers behind nginx (default 2)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--output", type=Path, default=BENCH_RUNS_DIR, help=f"where to write results.json (default {BENCH_RUNS_DIR})"
    )
    where.add_argument(
        "--publish",
        action="store_const",
        dest="output",
        const=BENCH_DIR,
        help=f"write the reference run committed with the project, {BENCH_DIR}, on purpose",
    )
    args = parser.parse_args(argv)
    if args.quick and args.output == BENCH_DIR:
        parser.error("a --quick run is too rough to publish as the reference run")
    if args.quick:
        args.duration, args.warmup = 1.0, 0.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if refused_on_windows("python -m tools.bench"):
        return 1
    print(f"Measuring {len(CASES)} cases, {args.duration:g} s each, on {HOST} ...", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="webapp-bench-") as run_dir:
            results = measure(
                seconds=args.duration, warmup=args.warmup, workers=args.workers, run_dir=Path(run_dir), quick=args.quick
            )
    except ProgramError as error:
        print(f"Cannot run the benchmark: {error}", file=sys.stderr)
        return 1
    print()
    print(format_table(results))
    json_path = write_results(results, args.output)
    print(f"\nWrote {json_path}; the site shows it at /bench.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
