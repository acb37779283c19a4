"""The project's shape: webapp/ is only the site, imports run tests -> tools -> webapp, the layout map is true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from webapp.paths import PROJECT_ROOT

PACKAGES = ("webapp", "tools", "tests")
# Who may import whom: a package imports only those to its right in this order.
ALLOWED_IMPORTS = {"tests": {"tests", "tools", "webapp"}, "tools": {"tools", "webapp"}, "webapp": {"webapp"}}


def _python_files(package: str) -> list[Path]:
    return sorted(path for path in (PROJECT_ROOT / package).rglob("*.py") if "__pycache__" not in path.parts)


def _imported_packages(path: Path) -> set[str]:
    """Given a Python file, return the top-level names of everything it imports, at any depth in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way_tests_then_tools_then_webapp(package: str) -> None:
    wrong = {}
    for path in _python_files(package):
        forbidden = (_imported_packages(path) & set(PACKAGES)) - ALLOWED_IMPORTS[package]
        if forbidden:
            wrong[str(path.relative_to(PROJECT_ROOT))] = sorted(forbidden)
    assert wrong == {}


def test_the_lessons_pong_is_written_in_one_place_in_the_site() -> None:
    places = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in _python_files("webapp")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "pong" in line
    ]
    assert len(places) == 1, places
    assert places[0].startswith("webapp/main.py:"), places


def _files_containing(pattern: str, *folders: str) -> list[str]:
    return sorted(
        str(path.relative_to(PROJECT_ROOT))
        for folder in folders
        for path in (PROJECT_ROOT / folder).rglob("*")
        if path.is_file()
        and path != Path(__file__)
        and "__pycache__" not in path.parts
        and pattern in path.read_text(errors="replace")
    )


def test_the_uvicorn_command_line_is_written_once() -> None:
    assert _files_containing('"-m", "uvicorn"', "webapp", "tools") == ["tools/processes.py"]


def test_the_nginx_configuration_is_written_once_in_one_family_of_templates() -> None:
    assert _files_containing("worker_processes", "webapp", "tools") == ["tools/nginx_conf/base.conf.j2"]
    assert _files_containing("proxy_pass", "webapp", "tools") == ["tools/nginx_conf/site.conf.j2"]


LAYOUT_GUIDES = ["docs/development.en.md", "docs/development.md"]


def _layout_map(guide: str) -> str:
    text = (PROJECT_ROOT / guide).read_text(encoding="utf-8")
    match = re.search(r"^## (Layout|구조)\n.*?^```\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert match, f"{guide} has no Layout section with a map in a code block"
    return match.group(2)


def _ignored_names() -> set[str]:
    lines = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("guide", LAYOUT_GUIDES)
def test_the_map_names_every_top_level_folder(guide: str) -> None:
    listed = {line.split()[0].rstrip("/") for line in _layout_map(guide).splitlines() if re.match(r"^\S+/\s", line)}
    folders = {
        path.name
        for path in PROJECT_ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name not in _ignored_names()
    }
    assert folders <= listed, f"missing from {guide}'s map: {sorted(folders - listed)}"
    assert listed <= folders | {".ci", ".run"}, f"in {guide}'s map but not in the tree: {sorted(listed - folders)}"


@pytest.mark.parametrize("guide", LAYOUT_GUIDES)
@pytest.mark.parametrize("package", ["webapp", "tools"])
def test_the_map_names_every_module(guide: str, package: str) -> None:
    layout = _layout_map(guide)
    section = re.search(rf"^{package}/.*?(?=^\S)", layout + "END\n", re.MULTILINE | re.DOTALL)
    assert section, f"{guide}'s map has no {package}/ entry"
    listed = set(re.findall(r"^\s+(\S+\.py)\b", section.group(0), re.MULTILINE))
    modules = {path.name for path in (PROJECT_ROOT / package).glob("*.py") if path.name != "__init__.py"}
    assert modules <= listed, f"{package}/ modules missing from {guide}'s map: {sorted(modules - listed)}"
    assert listed <= modules, f"in {guide}'s map but not in {package}/: {sorted(listed - modules)}"


# Modules Windows does not have; the site must start without any of them.
POSIX_ONLY_MODULES = ["fcntl", "termios", "pwd", "grp", "resource", "pty", "tty", "syslog", "crypt"]
POSIX_ONLY_CALLS = re.compile(
    r"\bos\.(killpg|fork|setsid|geteuid|getuid|getpgid)\b|\bsignal\.SIG(KILL|QUIT|HUP|USR1|USR2)\b"
)


def test_the_site_calls_nothing_posix_only() -> None:
    calls = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in _python_files("webapp")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if POSIX_ONLY_CALLS.search(line)
    ]
    assert calls == []
