"""Who asked, as /live shows it: "student 3", never an address.

Each address gets the next number the first time it is seen, and keeps it while the stack runs. The
stack's workers are separate processes that each read nginx's log, so they share the numbering through a
small file in the stack's private run folder, changed under a lock (fcntl: the stack runs on Linux and
macOS only). A single uvicorn keeps it in memory. This machine's own addresses are the instructor's
computer (number 0).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

INSTRUCTOR = 0
FILE_NAME = "live-visitors.json"
# Addresses numbered at most: a client with many addresses (IPv6 gives one a whole network) cannot grow the
# file or a worker's memory without bound. Past it, a new address is shown as unknown.
MAX_NUMBERED = 5000


def forget(run_dir: Path) -> None:
    """Start the numbering afresh (the stack does, each time it starts)."""
    (run_dir / FILE_NAME).unlink(missing_ok=True)


class Pseudonyms:
    def __init__(self, own_addresses: frozenset[str], run_dir: Path | None = None) -> None:
        self.own_addresses = own_addresses
        self._file = run_dir / FILE_NAME if run_dir is not None else None
        self._numbers: dict[str, int] = {}

    def number(self, address: str) -> int | None:
        """The number of whoever asked from `address`: 0 for this machine, None when it cannot be told."""
        if not address:
            return None
        if address in self.own_addresses:
            return INSTRUCTOR
        known = self._numbers.get(address)
        if known is not None or len(self._numbers) >= MAX_NUMBERED:
            return known
        self._numbers = self._numbered_with(address)
        return self._numbers.get(address)

    def _numbered_with(self, address: str) -> dict[str, int]:
        if self._file is None:
            return _with(dict(self._numbers), address)
        import fcntl  # not on Windows, where the stack does not run (and this file is never used)

        descriptor = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "r+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                numbers = _read(file.read())
                if address not in numbers and len(numbers) < MAX_NUMBERED:
                    numbers = _with(numbers, address)
                    file.seek(0)
                    file.truncate()
                    file.write(json.dumps(numbers))
                    file.flush()
                return numbers
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)


def _with(numbers: dict[str, int], address: str) -> dict[str, int]:
    if len(numbers) < MAX_NUMBERED:
        numbers[address] = len(numbers) + 1
    return numbers


def _read(text: str) -> dict[str, int]:
    try:
        numbers = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(numbers, dict):
        return {}
    return {str(address): number for address, number in numbers.items() if isinstance(number, int)}
