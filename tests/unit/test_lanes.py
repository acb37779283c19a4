"""Lanes: blocking calls on threads of their own, each waited for no longer than its deadline."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio.to_thread
import pytest

from webapp.lanes import Call, Lane, LaneTimeout

pytestmark = pytest.mark.anyio
DEADLINE = 0.3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def blocked_until(release: threading.Event, started: threading.Event | None = None) -> object:
    def wait(call: Call) -> bool:
        if started is not None:
            started.set()
        release.wait(10)
        return call.abandoned

    return wait


async def test_a_call_returns_what_the_function_returns() -> None:
    lane = Lane("test", 2, deadline_seconds=DEADLINE, max_waiting=4)
    assert await lane.run(lambda call, a, b: (call.abandoned, a + b), 2, 3) == (False, 5)
    lane.close()


async def test_a_call_that_hangs_is_given_up_at_the_deadline_and_told_so() -> None:
    lane = Lane("test", 1, deadline_seconds=DEADLINE, max_waiting=4)
    release = threading.Event()
    seen: list[bool] = []

    def hang(call: Call) -> None:
        release.wait(10)
        seen.append(call.abandoned)

    started = time.monotonic()
    with pytest.raises(LaneTimeout, match=r"no answer from the database within 0\.3 s"):
        await lane.run(hang)
    assert DEADLINE <= time.monotonic() - started < DEADLINE + 0.3
    release.set()
    await asyncio.sleep(0.1)
    assert seen == [True]  # the code that ran knows its caller is gone (a write rolls back)
    lane.close()


async def test_a_call_given_up_before_its_turn_never_runs() -> None:
    lane = Lane("test", 1, deadline_seconds=DEADLINE, max_waiting=4)
    release, ran = threading.Event(), threading.Event()
    hung = asyncio.ensure_future(lane.run(blocked_until(release)))
    await asyncio.sleep(0.05)
    with pytest.raises(LaneTimeout):
        await lane.run(lambda call: ran.set())
    release.set()
    with pytest.raises(LaneTimeout):
        await hung
    await lane.run(lambda call: None)  # the thread is free again, and the queue is empty
    assert not ran.is_set()
    lane.close()


async def test_when_too_many_wait_the_next_call_fails_at_once() -> None:
    lane = Lane("test", 1, deadline_seconds=2, max_waiting=2)
    release = threading.Event()
    waiting = [asyncio.ensure_future(lane.run(blocked_until(release))) for _ in range(3)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(LaneTimeout, match="3 test calls are already waiting"):
        await lane.run(lambda call: None)
    assert time.monotonic() - started < 0.1
    release.set()
    assert await asyncio.gather(*waiting) == [False, False, False]
    assert await lane.run(lambda call: "free") == "free"
    lane.close()


async def test_hung_calls_leave_the_shared_thread_pool_free() -> None:
    # What /ping (a plain def) and StaticFiles use: AnyIO's default threads.
    lane = Lane("test", 4, deadline_seconds=5, max_waiting=64)
    release = threading.Event()
    hung = [asyncio.ensure_future(lane.run(blocked_until(release))) for _ in range(60)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    for _ in range(50):
        await anyio.to_thread.run_sync(lambda: None)
    assert time.monotonic() - started < 1
    release.set()
    await asyncio.gather(*hung)
    lane.close()
