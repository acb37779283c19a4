"""The documented screenshot command works and draws every page in both languages and sizes."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.support import require_program
from tools.screenshots import DEVICES, PAGES, main


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_screenshot_command_writes_every_page_language_and_device(tmp_path: Path) -> None:
    require_program("chromium")
    assert main(["--output", str(tmp_path)]) == 0
    for name in PAGES:
        for language in ("ko", "en"):
            for device, viewport in DEVICES.items():
                path = tmp_path / f"{name}-{language}-{device}.png"
                assert _png_size(path) == (viewport["width"], viewport["height"])
                assert path.stat().st_size > 10_000  # a drawn page, not a blank one
    require_program("nginx")
    for language in ("ko", "en"):  # the micro-cache step of /spectrum, through the stack's nginx
        path = tmp_path / f"spectrum-{language}-desktop.png"
        width, height = _png_size(path)
        assert width <= DEVICES["desktop"]["width"] and height > 300
        assert path.stat().st_size > 10_000
