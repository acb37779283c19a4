"""Facts about the running server process that dynamic responses report."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


def now() -> datetime:
    """The server's local time, with its UTC offset."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Render:
    """The values a template was last rendered with, and the visitor (address) it was rendered for."""

    values: Mapping[str, object]
    visitor: str
    hidden: tuple[str, ...] = ()  # values left out: another visitor's

    def without(self, names: tuple[str, ...]) -> Render:
        kept = {key: value for key, value in self.values.items() if key not in names}
        return Render(kept, "", tuple(name for name in names if name in self.values))


@dataclass
class ProcessInfo:
    pid: int = field(default_factory=os.getpid)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _last_renders: dict[str, Render] = field(default_factory=dict, repr=False)

    def next_number(self) -> int:
        """Count one more dynamic response made by this process and return its number."""
        return next(self._numbers)

    def record_render(self, template: str, values: Mapping[str, object], *, visitor: str) -> None:
        """Remember the values `template` was last rendered with, and for whom, for the source view."""
        self._last_renders[template] = Render(values, visitor)

    def last_render(self, template: str) -> Render | None:
        """The values `template` was last rendered with in this process, or None if it was not yet."""
        return self._last_renders.get(template)
