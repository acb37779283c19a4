"""install.py, run by Pythons too old for the site: one sentence in Korean and English, and nothing made.
And what the site's own packages (requirements.txt, without the tests') must run: the pre-render command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.paths import PROJECT_ROOT

PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"


def _old_python(version: str) -> str:
    found = sorted(PYENV_VERSIONS.glob(f"{version}.*/bin/python"))
    if found:
        return str(found[-1])
    reason = f"no Python {version} to try install.py with (pyenv puts them in {PYENV_VERSIONS})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have Python {version}: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("version", ["2.7", "3.9", "3.10"])
def test_a_python_too_old_gets_one_sentence_and_nothing_is_made(tmp_path: Path, version: str) -> None:
    shutil.copy(PROJECT_ROOT / "install.py", tmp_path / "install.py")
    result = subprocess.run(
        [_old_python(version), "install.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr == ""
    korean, english = result.stdout.strip().split("\n")
    assert korean.startswith(f"이 파이썬은 {version} 버전입니다. 이 사이트에는 3.11 이상이 필요합니다.")
    assert english.startswith(f"This is Python {version}; the site needs 3.11 or newer.")
    assert re.search(r"winget install Python\.Python\.3\.13", english)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["install.py"]  # no .venv, nothing half-made


def test_the_pre_render_command_runs_on_the_sites_own_install(tmp_path: Path) -> None:
    """/spectrum tells a learner with the site's packages alone (requirements.txt) to run it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    static_dir = shutil.copytree(
        PROJECT_ROOT / "static", tmp_path / "static", ignore=shutil.ignore_patterns("prerendered")
    )
    result = subprocess.run(
        [str(python), "-m", "tools.prerender", "--static-dir", str(static_dir)],
        cwd=PROJECT_ROOT, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}", "PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "served at /static/prerendered/dynamic.html" in result.stdout
    assert "동적 페이지" in (static_dir / "prerendered" / "dynamic.html").read_text()
