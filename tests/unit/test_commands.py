"""Every command the site shows a learner runs as shown, from the checkout, with the venv's programs."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from webapp.paths import PROJECT_ROOT, STATIC_DIR

PAGES = ["/dynamic", "/compare", "/guestbook", "/log", "/bench", "/source/templates/dynamic.html"]
GUIDES = ["README.md", "README.en.md", *(f"docs/{path.name}" for path in (PROJECT_ROOT / "docs").glob("*.md"))]
VENV_PROGRAM = re.compile(r"^(?:\.\./)?\.venv/bin/(\S+)(.*)$|^(?:\.\.\\)?\.venv\\Scripts\\(\S+)(.*)$")
# A command that only works in an activated venv: on its own it says "command not found".
BARE = re.compile(r"^(uvicorn|pip|pytest|python -m|pybabel|mypy|ruff)\b")
VENV_BIN = Path(sys.executable).parent


def problems_with(command: str) -> list[str]:
    """Given a command as shown, return what would go wrong running it from the checkout."""
    command = command.strip()
    if BARE.match(command):
        return [f"{command!r} needs an activated venv: show .venv/bin/… (and .venv\\Scripts\\… on Windows)"]
    if command.startswith(("python3 install.py", "py install.py")):
        return [] if (PROJECT_ROOT / "install.py").is_file() else [f"{command!r}: install.py is missing"]
    match = VENV_PROGRAM.match(command)
    if not match:
        return []
    program, arguments = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    if not (VENV_BIN / program).exists():
        return [f"{command!r}: the venv has no {program}"]
    module = re.match(r"\s+-m\s+([\w.]+)", arguments)
    if program == "python" and module and importlib.util.find_spec(module.group(1)) is None:
        return [f"{command!r}: there is no module {module.group(1)}"]
    app = re.search(r"\b([\w.]+):app\b", arguments)
    if program == "uvicorn" and app and app.group(1) != "main" and importlib.util.find_spec(app.group(1)) is None:
        return [f"{command!r}: there is no module {app.group(1)}"]
    return []


def _code_in_html(text: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", code)) for code in re.findall(r"<code>(.*?)</code>", text, re.DOTALL)]


def _commands_in_markdown(text: str) -> list[str]:
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    blocks = re.findall(r"```(?:sh|powershell)\n(.*?)```", text, re.DOTALL)
    lines = [line.split("  #")[0] for block in blocks for line in block.splitlines()]
    return inline + lines


def test_the_checker_catches_what_a_learner_would_trip_over() -> None:
    assert problems_with("uvicorn webapp.main:app --reload")
    assert problems_with("python -m tools.stack")
    assert problems_with(".venv/bin/python -m tools.no_such_tool")
    assert problems_with(".venv/bin/no-such-program")
    assert problems_with(".venv/bin/uvicorn webapp.nothing:app")
    assert not problems_with(".venv/bin/python -m tools.stack")
    assert not problems_with(".venv\\Scripts\\uvicorn webapp.main:app --reload --reload-dir webapp")


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_command_on_a_dynamic_page_runs_as_shown(client: TestClient, language: str) -> None:
    shown = [code for path in PAGES for code in _code_in_html(client.get(path, params={"lang": language}).text)]
    assert [problem for command in shown for problem in problems_with(command)] == []


def test_the_benchmark_page_without_results_shows_a_command_that_runs(client: TestClient, tmp_path: Path) -> None:
    text = client.get("/bench", params={"lang": "en"}).text
    assert ".venv/bin/python -m tools.bench" in _code_in_html(text)


@pytest.mark.parametrize("page", ["index.html", "en/index.html"])
def test_every_command_on_a_static_page_runs_as_shown(page: str) -> None:
    shown = _code_in_html((STATIC_DIR / page).read_text(encoding="utf-8"))
    assert any(command.startswith(".venv/bin/uvicorn") for command in shown)
    assert [problem for command in shown for problem in problems_with(command)] == []


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_in_the_readmes_and_guides_runs_as_shown(guide: str) -> None:
    shown = _commands_in_markdown((PROJECT_ROOT / guide).read_text(encoding="utf-8"))
    assert [problem for command in shown for problem in problems_with(command)] == []
