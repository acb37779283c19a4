"""How soon a code edit shows: the site against the lesson's own app, timed the way a learner meets it.

Both run from a copy of the project in a temporary folder, each started exactly as the README says,
with --reload: the site with `uvicorn webapp.main:app --reload --reload-dir webapp` from the copy, the
lesson's app with `uvicorn main:app --reload` from the copy's lesson/ folder. An edit changes what
`test()` returns and saves the file; its time runs from the save to the first /ping that answers the
new value, asked every 20 ms, as a learner who keeps reloading. Start-up runs from starting the
command to the first 200 from /ping. The two apps take turns, edit for edit, so that both meet the
same moments of a shared machine.
"""

from __future__ import annotations

import compileall
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.processes import HOST, ProgramError, child_environment, free_port, spawn, stop_process
from webapp.paths import PROJECT_ROOT
from webapp.spectrum import PRERENDERED_FOLDER
from webapp.terminal import text as _

POLL_SECONDS = 0.02  # between two asks for /ping: a learner reloading as fast as a browser can
ASK_TIMEOUT_SECONDS = 10.0  # one ask: during a restart the connection waits for the new process
WAIT_SECONDS = 30.0  # for an edit to show, or a server to start, before the benchmark gives up
# Between edits: a learner reads the new value before the next edit, and the process that answered
# finishes what it does after its first answers (the site opens its database then, see webapp/storage.py),
# so that it costs neither app's next edit anything.
SETTLE_SECONDS = 1.5
COPIED_FOLDERS = ("webapp", "templates", "static", "translations", "lesson")
LESSON_RETURN = 'return {"message": "pong"}'


@dataclass(frozen=True)
class App:
    name: str  # "site" or "lesson"
    folder: str  # where the README starts it, in the project
    source: str  # the file that holds test(), in the project
    arguments: tuple[str, ...]  # after the uvicorn program, as the README writes them


SITE = App("site", ".", "webapp/main.py", ("webapp.main:app", "--reload", "--reload-dir", "webapp"))
LESSON = App("lesson", "lesson", "lesson/main.py", ("main:app", "--reload"))
APPS = (SITE, LESSON)


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    baseline: str  # the row this one is a ratio to (itself: a baseline)


ROWS = (
    Row("site_edit", "edit to new /ping, the site", "lesson_edit"),
    Row("lesson_edit", "edit to new /ping, the lesson's app", "lesson_edit"),
    Row("site_start", "start-up to the first 200, the site", "lesson_start"),
    Row("lesson_start", "start-up to the first 200, the lesson's app", "lesson_start"),
)


def copy_project(destination: Path) -> Path:
    """Copy what both apps run into `destination` (not what `python -m tools.prerender` made), compiled as the
    learner's own checkout is after its first start, and return it."""
    skipped = shutil.ignore_patterns("__pycache__", PRERENDERED_FOLDER)
    for folder in COPIED_FOLDERS:
        shutil.copytree(PROJECT_ROOT / folder, destination / folder, ignore=skipped)
    compileall.compile_dir(destination, quiet=1)
    return destination


def uvicorn_program() -> Path:
    """The uvicorn the README runs: the one beside this Python, in .venv/bin (Scripts on Windows)."""
    return Path(sys.executable).with_name("uvicorn")


def ask_ping(port: int) -> str | None:
    """GET /ping once, on a new connection as a reloading browser opens; return its message, None if no 200."""
    connection = http.client.HTTPConnection(HOST, port, timeout=ASK_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        body = response.read()
    except OSError:  # refused, reset, timed out: not answering yet
        return None
    finally:
        connection.close()
    if response.status != 200:
        return None
    message = json.loads(body).get("message")
    return message if isinstance(message, str) else None


def seconds_until(answered: Callable[[str | None], bool], port: int, since: float, failure: str) -> float:
    """Ask /ping every POLL_SECONDS until `answered` accepts its message; return the seconds from `since`
    (a time.perf_counter()). Raise ProgramError saying `failure` after WAIT_SECONDS."""
    while time.perf_counter() - since < WAIT_SECONDS:
        if answered(ask_ping(port)):
            return time.perf_counter() - since
        time.sleep(POLL_SECONDS)
    raise ProgramError(failure)


def message_after(edit: int) -> str:
    """What test() returns after `edit` edits: pong at first, then "edit 1", "edit 2"..."""
    return "pong" if edit == 0 else f"edit {edit}"


@dataclass
class Running:
    app: App
    project: Path
    port: int
    start_seconds: float
    edits: int = 0

    def edit(self) -> float:
        """Change what test() returns, save, and return the seconds until /ping answers the new value."""
        source = self.project / self.app.source
        before, after = message_after(self.edits), message_after(self.edits + 1)
        old, new = (LESSON_RETURN.replace('"pong"', json.dumps(message)) for message in (before, after))
        text = source.read_text(encoding="utf-8")
        if old not in text:
            raise ProgramError(_("%(file)s does not say %(text)s any more") % {"file": source, "text": old})
        source.write_text(text.replace(old, new), encoding="utf-8")
        saved = time.perf_counter()
        self.edits += 1
        failure = _("/ping did not answer %(message)s within %(seconds)s s of saving %(file)s") % {
            "message": after,
            "seconds": f"{WAIT_SECONDS:g}",
            "file": self.app.source,
        }
        return seconds_until(lambda message: message == after, self.port, saved, failure)


@contextmanager
def run(app: App, project: Path, log_folder: Path) -> Iterator[Running]:
    """Start `app` from its folder in `project` with the README's command on a free port; yield once /ping answers."""
    port = free_port()
    arguments = [*app.arguments, "--host", HOST, "--port", str(port)]
    with open(log_folder / f"reload-{app.name}-{port}.log", "wb") as log:
        started = time.perf_counter()
        process = spawn(
            [str(uvicorn_program()), *arguments],
            env=child_environment(),
            cwd=project / app.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        failure = _("/ping did not answer within %(seconds)s s of starting uvicorn %(arguments)s") % {
            "seconds": f"{WAIT_SECONDS:g}",
            "arguments": " ".join(app.arguments),
        }
        yield Running(app, project, port, seconds_until(lambda message: message is not None, port, started, failure))
    finally:
        stop_process(process)


def measure(run_dir: Path, *, edits: int, starts: int) -> dict[str, Any]:
    """Time `starts` start-ups and `edits` edits of each app, taking turns; return each row's times in ms."""
    project = copy_project(run_dir / "reload-project")
    times: dict[str, list[float]] = {row.name: [] for row in ROWS}
    for _start in range(starts - 1):  # the last start-up is the one the edits are made on
        for app in APPS:
            with run(app, project, run_dir) as running:
                times[f"{app.name}_start"].append(running.start_seconds * 1000)
    with ExitStack() as servers:
        running_apps = [servers.enter_context(run(app, project, run_dir)) for app in APPS]
        for running in running_apps:
            times[f"{running.app.name}_start"].append(running.start_seconds * 1000)
        for _edit in range(edits):
            for running in running_apps:
                time.sleep(SETTLE_SECONDS)
                times[f"{running.app.name}_edit"].append(running.edit() * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "edits": edits,
        "starts": starts,
        "poll_ms": POLL_SECONDS * 1000,
        "commands": {app.name: " ".join(["uvicorn", *app.arguments]) for app in APPS},
        "folders": {app.name: app.folder for app in APPS},
        "rows": [
            {
                **asdict(row),
                "median_ms": round(medians[row.name], 1),
                "min_ms": round(min(times[row.name]), 1),
                "max_ms": round(max(times[row.name]), 1),
                "runs_ms": [round(ms, 1) for ms in times[row.name]],
                "ratio": round(medians[row.name] / medians[row.baseline], 3),
            }
            for row in ROWS
        ],
    }
