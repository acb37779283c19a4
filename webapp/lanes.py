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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

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
        self._max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"database-{name}")
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
        try:
            future: Future[T] = self._executor.submit(function, call, *args)
        except RuntimeError:  # shut down
            self._done()
            raise LaneTimeout(f"the {self.name} lane is closed") from None
        future.add_done_callback(lambda _: self._done())
        started = time.perf_counter()
        try:
            # wait_for cancels the future on timeout: a call still queued never runs.
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline_seconds)
        except TimeoutError:
            call.abandon()
            waited = time.perf_counter() - started
            raise LaneTimeout(f"no answer from the database within {waited:.1f} s") from None

    def start(self, function: Callable[[], object]) -> bool:
        """Run `function()` on this lane's threads without waiting for it: it reports back itself.
        Return False if the lane is closed."""
        try:
            future = self._executor.submit(function)
        except RuntimeError:
            return False
        future.add_done_callback(_log_failure)
        return True

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _done(self) -> None:
        with self._pending_lock:
            self._pending -= 1


def _log_failure(future: Future[object]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        logger.error("a database task failed", exc_info=error)
