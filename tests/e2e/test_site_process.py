"""The site as a Python process of its own, as uvicorn imports it: it loads no tool, and it starts where the
POSIX-only modules are missing (as on Windows). Each test starts a fresh interpreter, so they live here, out of
the quick unit loop."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.test_layout import PACKAGES, POSIX_ONLY_MODULES, _python_files
from webapp.paths import PROJECT_ROOT


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
    tool_names = {path.stem for path in _python_files("tools")} - {"__init__"}
    assert not [name for name in ours if name.rsplit(".", 1)[-1] in tool_names]


def test_the_site_starts_without_any_posix_only_module() -> None:
    """As on Windows: importing any of them fails, and the site still builds and answers."""
    script = f"""
import importlib.abc, sys
class WindowsHasNone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {POSIX_ONLY_MODULES!r}:
            raise ImportError(name + " is not on Windows")
sys.meta_path.insert(0, WindowsHasNone())
for name in {POSIX_ONLY_MODULES!r}:
    sys.modules.pop(name, None)
from fastapi.testclient import TestClient
from webapp.main import create_app
from webapp.settings import Settings
with TestClient(create_app(Settings(database_url="sqlite://"))) as client:
    assert client.get("/ping").json() == {{"message": "pong"}}
    assert client.get("/dynamic").status_code == 200
    assert client.get("/static/index.html").status_code == 200
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr
