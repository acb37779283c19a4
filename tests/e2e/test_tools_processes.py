"""The tools' process helpers, with real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import is_running
from tools.processes import (
    HOST,
    ProgramError,
    find_program,
    free_port,
    run_uvicorn,
    spawn,
    stop_process,
)


def test_stop_process_stops_a_child_and_everything_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    process = spawn(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"])
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the child never started its own child"
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    stop_process(process, seconds=5)
    assert process.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 5
    while is_running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(grandchild)


def test_a_server_that_dies_while_starting_is_one_clear_error(tmp_path: Path) -> None:
    with (
        pytest.raises(
            ProgramError, match=r"uvicorn \(no_such_module:app\) exited with status \d+ while starting"
        ) as error,
        run_uvicorn(app="no_such_module:app", cwd=tmp_path),
    ):
        pass
    assert 'Could not import module "no_such_module"' in str(error.value)  # its output says why


def test_free_ports_are_free_and_programs_are_found() -> None:
    port = free_port()
    subprocess.run(
        [sys.executable, "-c", f"import socket; socket.create_server(('{HOST}', {port})).close()"], check=True
    )
    assert find_program("sh") is not None
    assert find_program("no-such-program-here") is None
