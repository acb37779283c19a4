"""install.py, run by Pythons too old for the site: one sentence in Korean and English, and nothing made.
And what the site's own packages (requirements.txt, without the tests') must run: the pre-render command;
and what a tool that needs the tests' packages says there instead of a traceback."""

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
    assert korean.startswith(f"지금 실행한 파이썬은 {version} 버전입니다. 이 사이트에는 3.11 이상이 필요합니다.")
    assert english.startswith(f"This is Python {version}; the site needs 3.11 or newer.")
    assert re.search(r"winget install Python\.Python\.3\.13", english)
    # brew's python@3.13 is python3.13, and python3 often stays Apple's 3.9: "run it again" alone would loop.
    assert "brew install python@3.13, then python3.13 install.py" in english
    assert "python3.13 install.py" in korean
    assert sorted(path.name for path in tmp_path.iterdir()) == ["install.py"]  # no .venv, nothing half-made


@pytest.fixture(scope="module")
def lean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv made as the README's install makes it: the site's own packages (requirements.txt) alone."""
    venv = tmp_path_factory.mktemp("lean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return python


def test_the_pre_render_command_runs_on_the_sites_own_install(tmp_path: Path, lean_python: Path) -> None:
    """/spectrum tells a learner with the site's packages alone (requirements.txt) to run it."""
    python = lean_python
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


@pytest.mark.parametrize("tool", ["bench", "screenshots"])
@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("C.UTF-8", "needs the packages of the tests and tools"),
        ("ko_KR.UTF-8", "명령어에는 테스트와 도구용 패키지가 필요한데"),
    ],
)
def test_a_tool_that_needs_the_test_packages_says_so_in_one_sentence(
    lean_python: Path, tool: str, locale: str, sentence: str
) -> None:
    """`python -m tools.bench` after the README's install: what to install, in the system's language, no traceback."""
    result = subprocess.run(
        [str(lean_python), "-m", f"tools.{tool}", "--help"],
        cwd=PROJECT_ROOT, env={"LANG": locale, "PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"python -m tools.{tool} ")
    assert sentence in lines[0]
    assert "python3 install.py --dev" in lines[0] and "py install.py --dev" in lines[0]
