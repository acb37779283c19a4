"""The project's shape: webapp/ is only the site, imports run tests -> tools -> webapp, the README's map is true."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


def test_the_site_loads_no_tool_when_uvicorn_imports_it() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, webapp.main; print('\\n'.join(sorted(sys.modules)))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    ours = sorted(name for name in loaded if name.split(".")[0] in PACKAGES)
    assert [name for name in ours if not name.startswith("webapp")] == []
    assert not [name for name in ours if re.search(r"stack|bench|screenshot|browser|nginx", name)]


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


def _readme_layout() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Layout\n.*?^```\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    assert match, "the README has no Layout section with a map in a code block"
    return match.group(1)


def _ignored_names() -> set[str]:
    lines = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")}


def test_the_readme_map_names_every_top_level_folder() -> None:
    listed = {line.split()[0].rstrip("/") for line in _readme_layout().splitlines() if re.match(r"^\S+/\s", line)}
    folders = {
        path.name
        for path in PROJECT_ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and path.name not in _ignored_names()
    }
    assert folders <= listed, f"missing from the README's map: {sorted(folders - listed)}"
    assert listed <= folders | {".ci"}, f"in the README's map but not in the tree: {sorted(listed - folders)}"


@pytest.mark.parametrize("package", ["webapp", "tools"])
def test_the_readme_map_names_every_module(package: str) -> None:
    layout = _readme_layout()
    section = re.search(rf"^{package}/.*?(?=^\S)", layout + "END\n", re.MULTILINE | re.DOTALL)
    assert section, f"the README's map has no {package}/ entry"
    listed = set(re.findall(r"^\s+(\S+\.py)\b", section.group(0), re.MULTILINE))
    modules = {path.name for path in (PROJECT_ROOT / package).glob("*.py") if path.name != "__init__.py"}
    assert modules <= listed, f"{package}/ modules missing from the README's map: {sorted(modules - listed)}"
    assert listed <= modules, f"in the README's map but not in {package}/: {sorted(listed - modules)}"
