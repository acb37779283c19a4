"""How this process was started: the command typed, the app it runs, and whether uvicorn restarts it on a save.

Under `uvicorn … --reload` the process that runs the app is a child the reloader started, and Python gives
the child the parent's command line (multiprocessing's spawn copies `sys.argv`). So `--reload` in the command
line of a process that has a parent process is a fact, not a guess; a command line that is not uvicorn's
(a test, `uvicorn.run()` in a script) cannot say, and the practice page says that it cannot.
"""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

ON, OFF, UNKNOWN = "on", "off", "unknown"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000  # uvicorn's own defaults


@dataclass(frozen=True)
class Launch:
    command: str  # as typed, with the program's folder left out: "uvicorn webapp.main:app --reload"
    app: str  # the import string uvicorn was given ("webapp.main:app"), "" if it is not known
    reload: str  # ON, OFF or UNKNOWN
    reload_dirs: tuple[str, ...]  # the --reload-dir folders, as typed ("" for none: uvicorn watches its folder)
    host: str = DEFAULT_HOST  # --host: where uvicorn listens
    port: int = DEFAULT_PORT  # --port


def launch_of(argv: list[str], *, has_parent: bool) -> Launch:
    """Given a command line and whether a parent process started this one, return how it was started."""
    # Windows' paths split on both separators, so this reads a command line from either system.
    program = PureWindowsPath(argv[0]) if argv else PureWindowsPath()
    if program.stem.lower() == "uvicorn":
        words = ["uvicorn"]
    elif program.name == "__main__.py" and program.parent.name == "uvicorn":
        words = ["python -m uvicorn"]
    else:
        return Launch(" ".join(["python", *argv[1:]]) if argv else "", "", UNKNOWN, ())
    arguments = argv[1:]
    app = next((word for word in arguments if ":" in word and not word.startswith("-")), "")
    # `--reload` without a parent process: this is the reloader itself, which never runs the app.
    reload = (ON if has_parent else UNKNOWN) if "--reload" in arguments else OFF
    host = (_values_of("--host", arguments) or [DEFAULT_HOST])[-1]
    port = (_values_of("--port", arguments) or [str(DEFAULT_PORT)])[-1]
    return Launch(
        " ".join(words + arguments),
        app,
        reload,
        tuple(_values_of("--reload-dir", arguments)),
        host,
        int(port) if port.isdigit() else DEFAULT_PORT,
    )


def this_launch() -> Launch:
    """How the running process was started."""
    return launch_of(sys.argv, has_parent=multiprocessing.parent_process() is not None)


def watches(launch: Launch, file: Path, cwd: Path) -> bool:
    """Whether uvicorn's reloader, started as `launch` in `cwd`, restarts the server when `file` is saved."""
    if launch.reload != ON:
        return False
    folders = [cwd / folder for folder in launch.reload_dirs] or [cwd]
    return any(file.resolve().is_relative_to(folder.resolve()) for folder in folders)


def _values_of(option: str, arguments: list[str]) -> list[str]:
    values = []
    for position, word in enumerate(arguments):
        if word == option and position + 1 < len(arguments):
            values.append(arguments[position + 1])
        elif word.startswith(option + "="):
            values.append(word.split("=", 1)[1])
    return values
