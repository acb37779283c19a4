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

    def bars(self) -> list[Bar]:
        rows = self.results["rows"]
        fastest = max((row["requests_per_second"] for row in rows), default=0.0) or 1.0
        return [
            Bar(row["name"], row["server"], row["requests_per_second"], row["requests_per_second"] / fastest)
            for row in rows
        ]


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
