"""Blocking work on threads of its own, with a bound on how long anyone waits for it.

The database waits: for a lock another program holds, for a server that is slow
or paused. If that waiting happened on the threads every plain `def` handler and
static file shares (AnyIO's 40), a stalled database would stall /ping and static
files too. So database calls run in lanes: a few threads of their own, a short
queue in front, and a deadline on every call. A caller that reaches the deadline
stops waiting and is told so; the thread finishes the call when it can, and a call
that never started is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


class LaneTimeout(Exception):
    """The call did not finish in time, or could not even wait its turn; the sentence says which."""


class Call:
    """One call in a lane, as the code it runs sees it: a write checks `abandoned` before it commits,
    so that what the caller was told ("not stored") stays true."""

    def __init__(self) -> None:
        self._abandoned = threading.Event()

    @property
    def abandoned(self) -> bool:
        return self._abandoned.is_set()

    def abandon(self) -> None:
        self._abandoned.set()


class Lane:
    def __init__(self, name: str, threads: int, *, deadline_seconds: float, max_waiting: int) -> None:
        self.name = name
        self.deadline_seconds = deadline_seconds
        self._thread_count = threads
        self._threads: list[threading.Thread] = []
        self._work: queue.SimpleQueue[tuple[Callable[[], object], Future[Any]] | None] = queue.SimpleQueue()
        self._closed = False
        self._pending = 0  # calls queued or running
        self._pending_lock = threading.Lock()
        self._max_pending = threads + max_waiting

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(call, *args)` on this lane's threads and return what it returns.

        Raise LaneTimeout when it has not finished within the deadline, or at once
        when too many calls are already waiting.
        """
        with self._pending_lock:
            if self._pending >= self._max_pending:
                raise LaneTimeout(f"{self._pending} {self.name} calls are already waiting for the database")
            self._pending += 1
        call = Call()
        future: Future[T] = Future()
        future.add_done_callback(lambda _: self._done())
        if not self._submit(lambda: function(call, *args), future):
            raise LaneTimeout(f"the {self.name} lane is closed")
        return await wait_at_most(future, self.deadline_seconds, call)

    def start(self, function: Callable[[], object]) -> bool:
        """Run `function()` on this lane's threads without waiting for it: it reports back itself.
        Return False if the lane is closed."""
        future: Future[object] = Future()
        future.add_done_callback(_log_failure)
        return self._submit(function, future)

    def close(self) -> None:
        """Drop the calls still queued; each thread ends when its current call does."""
        self._closed = True
        while True:
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[1].cancel()
        for _ in self._threads:
            self._work.put(None)

    def _submit(self, function: Callable[[], object], future: Future[Any]) -> bool:
        if self._closed:
            future.cancel()
            return False
        if not self._threads:
            # Daemon threads: a call stuck on a paused server must not keep the process from exiting.
            self._threads = [
                threading.Thread(target=self._serve, name=f"database-{self.name}-{number}", daemon=True)
                for number in range(self._thread_count)
            ]
            for thread in self._threads:
                thread.start()
        self._work.put((function, future))
        return True

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            function, future = item
            if not future.set_running_or_notify_cancel():  # given up on while it waited: never run
                continue
            try:
                result = function()
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _done(self) -> None:
        with self._pending_lock:
            self._pending -= 1


async def wait_at_most(future: Future[T] | asyncio.Future[T], seconds: float, call: Call) -> T:
    """Wait for `future` at most `seconds`; then give it up (a call not started yet never runs)
    and raise LaneTimeout. A result that came in time is returned, even at the last moment."""
    waiting = asyncio.wrap_future(future) if isinstance(future, Future) else future
    started = time.perf_counter()
    done, _ = await asyncio.wait({waiting}, timeout=seconds)
    if done:
        return waiting.result()
    call.abandon()
    future.cancel()  # at once, not on the loop's next turn: a thread may be about to take it
    waiting.cancel()
    raise LaneTimeout(f"no answer from the database within {time.perf_counter() - started:.1f} s")


def _log_failure(future: Future[object]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        logger.error("a database task failed", exc_info=error)
