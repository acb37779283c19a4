"""The stack's health check of a worker (tools/health.py) and what the stack says when it replaces one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools import stack
from tools.health import Health, PingWatch, ask_ping
from tools.processes import HOST, free_port


@contextmanager
def listening(answer: bytes | None) -> Iterator[int]:
    """A port on HOST that sends `answer` to the first connection; with None, it never accepts one: the
    kernel queues the connection, as it does for a stopped process."""
    with socket.create_server((HOST, 0)) as server:

        def serve_once() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(answer or b"")

        if answer is None:
            yield server.getsockname()[1]
            return
        serving = threading.Thread(target=serve_once, daemon=True)
        serving.start()
        yield server.getsockname()[1]
        serving.join(timeout=5)


def test_a_worker_that_answers_200_is_healthy() -> None:
    with listening(b'HTTP/1.1 200 OK\r\ncontent-length: 18\r\n\r\n{"message":"pong"}') as port:
        assert ask_ping(port, timeout=5) is Health.ANSWERED


def test_a_port_that_accepts_but_never_answers_is_silent() -> None:
    with listening(None) as port:
        assert ask_ping(port, timeout=0.2) is Health.SILENT


def test_an_error_answer_is_silent_too() -> None:
    with listening(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n") as port:
        assert ask_ping(port, timeout=5) is Health.SILENT


def test_a_closed_port_is_not_listening() -> None:
    assert ask_ping(free_port(), timeout=1) is Health.NOT_LISTENING


def test_refusals_count_only_once_the_worker_has_listened() -> None:
    watch = PingWatch(1, interval=1, timeout=1)  # never started: the outcomes are fed by hand
    for _ in range(5):
        watch.record(Health.NOT_LISTENING, began=0.0)  # still starting up
    assert watch.silence().checks == 0
    watch.record(Health.ANSWERED, began=0.0)
    watch.record(Health.SILENT, began=0.0)
    watch.record(Health.NOT_LISTENING, began=0.0)  # listened before: its port closed, the process did not exit
    assert watch.silence().checks == 2
    watch.record(Health.ANSWERED, began=0.0)
    assert watch.silence().checks == 0


def test_a_first_silent_check_counts_even_before_any_answer() -> None:
    watch = PingWatch(1, interval=1, timeout=1)
    watch.record(Health.SILENT, began=0.0)  # it accepted the connection: it listens, and said nothing
    assert watch.silence().checks == 1


class _Process:
    def __init__(self, pid: int) -> None:
        self.pid = pid


class _HungWorker(stack.Worker):
    def kill(self) -> bool:
        return True

    def start(self) -> None:
        self.process = _Process(5678)  # type: ignore[assignment]

    def watch_health(self) -> None:
        pass


@pytest.mark.parametrize(
    ("language", "restart", "said"),
    [
        (
            "en_US.UTF-8",
            True,
            "worker 1 (pid 1234, port 9001) did not answer /ping for 3 s; killed and restarted as pid 5678.",
        ),
        (
            "ko_KR.UTF-8",
            True,
            "워커 1(pid 1234, 포트 9001): 3초 동안 /ping에 응답하지 않았습니다. "
            "강제로 종료하고 pid 5678 프로세스로 다시 시작했습니다.",
        ),
        (
            "en_US.UTF-8",
            False,
            "worker 1 (pid 1234, port 9001) did not answer /ping for 3 s; killed, not restarting (--no-restart).",
        ),
    ],
)
def test_a_hung_worker_is_one_sentence_in_the_systems_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    language: str, restart: bool, said: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("LANG", language)
    running = stack.Stack(run_dir=tmp_path, restart=restart, server_names=["localhost"])
    monkeypatch.setattr(running, "write_state", lambda: None)
    worker = _HungWorker(1, 9001, process=_Process(1234))  # type: ignore[arg-type]
    running._replace_hung(worker, 3.2)
    assert capsys.readouterr().out.strip() == said
    assert worker.reported_dead is not restart
