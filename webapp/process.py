"""Facts about the running server process that dynamic responses report."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def now() -> datetime:
    """The server's local time, with its UTC offset."""
    return datetime.now().astimezone()


@dataclass
class ProcessInfo:
    pid: int = field(default_factory=os.getpid)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    # What each template was last rendered with, for the source view.
    last_render: dict[str, dict[str, Any]] = field(default_factory=dict)

    def next_number(self) -> int:
        """Count one more dynamic response made by this process and return its number."""
        return next(self._numbers)
