"""Where the site's files live, found from this package's own location.

The site must start from any working directory, so nothing here depends on it.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = PROJECT_ROOT / "static"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
# What the tools make (benchmark results, screenshots); /bench shows the benchmark's.
GENERATED_DIR = PROJECT_ROOT / "generated"
BENCH_DIR = GENERATED_DIR / "bench"  # the reference run, committed: python -m tools.bench --publish
# What runs leave behind, ignored by git: the stack's files, your own benchmark runs.
RUN_DIR = PROJECT_ROOT / ".run"
BENCH_RUNS_DIR = RUN_DIR / "bench"
DATA_DIR = PROJECT_ROOT / "data"
