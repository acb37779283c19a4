"""The benchmark's results as /bench shows them: your own latest run, else the reference run.

`python -m tools.bench` writes results.json to .run/bench/ (ignored by git);
the reference run committed with the project is in generated/bench/. The page
draws its chart from these figures itself, so every word on it can be translated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

RESULTS_FILE = "results.json"
Source = Literal["own", "reference"]


@dataclass(frozen=True)
class Bar:
    name: str  # the case's id, which the page translates into its label
    server: str  # "nginx" or "uvicorn"
    requests_per_second: float
    share: float  # of the fastest case, 0 to 1: the bar's length


@dataclass(frozen=True)
class Miss:
    """A target a run did not meet, and by how much: a ratio a little off its bound is usually the machine's noise."""

    name: str  # the target's id, which the page translates into its claim
    ratio: float
    bound: float
    at_least: bool  # True: the ratio had to reach `bound`; False: it had to stay within it
    percent_off: int  # how far the ratio is from its bound, in percent of the bound (at least 1)


@dataclass(frozen=True)
class BenchRun:
    results: dict[str, Any]
    source: Source

    @property
    def quick(self) -> bool:
        """A --quick run: one second per case, no warm-up, rough figures."""
        return bool(self.results.get("quick", self.results["settings"]["seconds_per_row"] < 2))

    @property
    def measured_at(self) -> datetime:
        return datetime.fromisoformat(self.results["date"])

    def requests_per_second(self, case: str) -> float | None:
        return next((row["requests_per_second"] for row in self.results["rows"] if row["name"] == case), None)

    @property
    def static_speedup(self) -> float | None:
        """How many times faster nginx sent the static page than uvicorn did, in this run."""
        through_nginx = self.requests_per_second("static_nginx")
        through_uvicorn = self.requests_per_second("static_uvicorn")
        if not through_nginx or not through_uvicorn:
            return None
        return through_nginx / through_uvicorn

    def misses(self) -> list[Miss]:
        """Given the run's targets, return those not met whose ratio was measured, in the table's order."""
        found = []
        for target in self.results.get("targets", []):
            ratio, at_least, at_most = target.get("ratio"), target.get("at_least"), target.get("at_most")
            if target.get("met", True) or ratio is None:
                continue
            if at_least is not None and ratio < at_least:
                found.append(Miss(target["name"], ratio, at_least, True, _percent_off(ratio, at_least)))
            elif at_most is not None and ratio > at_most:
                found.append(Miss(target["name"], ratio, at_most, False, _percent_off(ratio, at_most)))
        return found

    def bars(self) -> list[Bar]:
        rows = self.results["rows"]
        fastest = max((row["requests_per_second"] for row in rows), default=0.0) or 1.0
        return [
            Bar(row["name"], row["server"], row["requests_per_second"], row["requests_per_second"] / fastest)
            for row in rows
        ]


def _percent_off(ratio: float, bound: float) -> int:
    return max(1, round(abs(ratio - bound) / abs(bound) * 100)) if bound else 100


def latest_run(own_runs_dir: Path, reference_dir: Path) -> BenchRun | None:
    """Given where your runs and the reference run are, return the run to show, or None if neither exists."""
    sources: tuple[tuple[Source, Path], ...] = (("own", own_runs_dir), ("reference", reference_dir))
    for source, folder in sources:
        path = folder / RESULTS_FILE
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(results, dict) and results.get("rows"):
            return BenchRun(results, source)
    return None
