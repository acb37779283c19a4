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
INSTALL = re.compile(r"^(?:python3(?:\.\d+)?|py(?: -3\.\d+)?) install\.py\b")
# A guide's POSIX command (.venv/bin/X) needs its Windows PowerShell form (.venv\Scripts\X) beside it, or a
# sentence saying it runs only on Linux, macOS or WSL. "Beside it" is what a reader sees together: the same
# table row, the same code block (or the paragraph just before or after it), the same paragraph or list item,
# or the next line.
POSIX_PROGRAM = re.compile(r"\.venv/bin/([\w.-]+)")
POSIX_ONLY = re.compile(r"Linux(?:, macOS)?(?:,| 또는| or) WSL|Linux 서버|Linux server")
# Where a guide says a command needs WSL, it also says the Windows install does not carry over into WSL.
INSTALL_AGAIN_IN_WSL = re.compile(r"WSL 안에서.{0,80}다시 설치|again inside WSL")


def problems_with(command: str) -> list[str]:
    """Given a command as shown, return what would go wrong running it from the checkout."""
    command = command.strip()
    if BARE.match(command):
        return [f"{command!r} needs an activated venv: show .venv/bin/… (and .venv\\Scripts\\… on Windows)"]
    if INSTALL.match(command):
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


def _units(text: str) -> list[tuple[range, range]]:
    """Given a Markdown text, return its parts as (the lines in it, the lines a reader sees with them): a
    table row alone, a code block with the paragraphs just before and after it, a paragraph or a list item with
    the next line."""
    lines = text.splitlines()
    units: list[tuple[range, range]] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("```"):
            end = next((n for n in range(number + 1, len(lines)) if lines[n].startswith("```")), len(lines) - 1)
            before, after = max(number - 1, 0), min(end + 1, len(lines) - 1)
            while before > 0 and not lines[before].strip():
                before -= 1
            while before > 0 and lines[before - 1].strip():  # the whole paragraph that leads into the block
                before -= 1
            while after < len(lines) - 1 and not lines[after].strip():
                after += 1
            while after < len(lines) - 1 and lines[after + 1].strip():  # and the one that follows it
                after += 1
            units.append((range(number, end + 1), range(before, after + 1)))
            number = end + 1
        elif line.startswith("|") or not line.strip():
            units.append((range(number, number + 1), range(number, number + 1)))
            number += 1
        else:
            end = number + 1
            while end < len(lines) and lines[end].strip() and not re.match(r"(?:[-*]|\d+\.|#+|\||```)\s?", lines[end]):
                end += 1
            units.append((range(number, end), range(number, min(end + 1, len(lines)))))
            number = end
    return units


def windows_gaps(text: str) -> list[str]:
    """Given a guide, return each POSIX command with neither its Windows form nor a "Linux, macOS or WSL" beside it."""
    lines = text.splitlines()
    gaps = []
    for inside, seen in _units(text):
        beside = "\n".join(lines[seen.start : seen.stop])
        for number in inside:
            for program in POSIX_PROGRAM.findall(lines[number]):
                if f".venv\\Scripts\\{program}" not in beside and not POSIX_ONLY.search(beside):
                    gaps.append(f"line {number + 1}: .venv/bin/{program} without .venv\\Scripts\\{program}")
    return gaps


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


def test_the_windows_checker_catches_a_posix_command_alone() -> None:
    assert windows_gaps("Run `.venv/bin/python -m tools.prerender`.\n")
    assert windows_gaps(
        "```sh\n.venv/bin/python -m pytest\n```\n\nThe tests.\n\nOn Windows: `.venv\\Scripts\\python -m pytest`.\n"
    )
    assert windows_gaps("Run `.venv/bin/uvicorn webapp.main:app`\n(Windows: `.venv\\Scripts\\python -m pytest`).\n")
    assert windows_gaps("| `.venv/bin/mypy` | |\n| `.venv\\Scripts\\mypy` | |\n")
    assert windows_gaps("- Run `.venv/bin/mypy`.\n\n  On Windows, `.venv\\Scripts\\mypy`.\n")


def test_the_windows_checker_accepts_a_windows_form_or_a_posix_only_sentence_beside_it() -> None:
    assert not windows_gaps(
        "Run `.venv/bin/python -m tools.prerender`\n(Windows: `.venv\\Scripts\\python -m tools.prerender`).\n"
    )
    assert not windows_gaps("| `.venv/bin/uvicorn webapp.main:app` | `.venv\\Scripts\\uvicorn webapp.main:app` |\n")
    assert not windows_gaps("```sh\n.venv/bin/mypy    # Windows: .venv\\Scripts\\mypy\n```\n")
    assert not windows_gaps("```sh\n.venv/bin/python -m tools.stack\n```\n\nIt needs Linux, macOS or WSL.\n")
    assert not windows_gaps("In Windows PowerShell, `.venv\\Scripts\\mypy`:\n\n```sh\n.venv/bin/mypy\n```\n")
    assert not windows_gaps("It runs on Linux, macOS 또는 WSL only,\nwith `.venv/bin/python -m tools.bench`.\n")


@pytest.mark.parametrize("guide", GUIDES)
def test_every_posix_command_in_the_guides_has_its_windows_form_or_says_it_needs_linux_macos_or_wsl(guide: str) -> None:
    text = (PROJECT_ROOT / guide).read_text(encoding="utf-8")
    assert windows_gaps(text) == []
    if POSIX_ONLY.search(text):
        assert INSTALL_AGAIN_IN_WSL.search(text), f"{guide} sends a reader to WSL: say the install is made again there"


def test_install_py_tells_an_old_python_which_command_runs_the_new_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On macOS, brew's python@3.13 is python3.13 while python3 stays Apple's 3.9: "run this again" would loop."""
    spec = importlib.util.spec_from_file_location("install", PROJECT_ROOT / "install.py")
    assert spec and spec.loader
    install = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install)
    monkeypatch.setattr(sys, "version_info", (3, 9, 6, "final", 0))
    assert install.main([]) == 1
    korean, english = capsys.readouterr().out.strip().split("\n")
    assert korean.startswith("지금 실행한 파이썬은 3.9 버전입니다.")
    for said in (korean, english):
        assert "brew install python@3.13" in said
        assert "python3.13 install.py" in said
        assert "python3.11 install.py" in said
