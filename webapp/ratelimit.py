"""How many guestbook posts one address may make: a token bucket per address.

A visitor may post `per_minute` times at once, then once every 60/per_minute
seconds. Each process keeps its own buckets (behind nginx, nginx limits posts
for all workers together as well).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_ADDRESSES = 10_000  # the buckets kept: the oldest are forgotten first, so memory stays bounded


class PostLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address: (tokens, when)

    def wait_seconds(self, address: str) -> int:
        """Take one post for `address`: 0 if it may post now, else the whole seconds until it may."""
        if self.per_minute <= 0:
            return 0
        now = self._clock()
        rate = self.per_minute / 60
        tokens, when = self._buckets.pop(address, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - when) * rate)
        if tokens >= 1:
            self._buckets[address] = (tokens - 1, now)
            wait = 0
        else:
            self._buckets[address] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / rate))
        if len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)
        return wait
