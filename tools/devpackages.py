"""One sentence, not a traceback, when a tool needs the packages that only `install.py --dev` installs.

The README's install is the site's own packages (requirements.txt); the benchmark
and the screenshots also need requirements-dev.txt's (httpx, Playwright). A
tool's imports fail before any of its code runs, so no check inside a tool's
main() could see it: the check is a hook on the uncaught error itself, and
every other error still gets Python's usual report.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import TracebackType

from webapp.paths import PROJECT_ROOT
from webapp.terminal import text as _


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)", line.strip()):
            names.add(match.group(1).lower().replace("-", "_"))
    return names


def dev_only_packages() -> set[str]:
    """The import names of what requirements-dev.txt adds to requirements.txt."""
    return _requirement_names(PROJECT_ROOT / "requirements-dev.txt") - _requirement_names(
        PROJECT_ROOT / "requirements.txt"
    )


def shown_command(argv0: str) -> str:
    """Given sys.argv[0] of `python -m tools.bench` (the module's file), return the command as a learner typed it."""
    path = Path(argv0)
    if path.parent.name == "tools" and path.suffix == ".py":
        return f"python -m tools.{path.stem}"
    return "python " + argv0


def missing_dev_packages_sentence(command: str) -> str:
    return _(
        "%(command)s needs the packages of the tests and tools, which the site's own install leaves out. "
        "Install them once with python3 install.py --dev (Windows: py install.py --dev), then run it again."
    ) % {"command": command}


def explain_missing_dev_packages() -> None:
    previous = sys.excepthook
    dev_only = dev_only_packages()

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0].lower() in dev_only:
            print(missing_dev_packages_sentence(shown_command(sys.argv[0])), file=sys.stderr)
            return
        previous(kind, error, trace)

    sys.excepthook = hook
