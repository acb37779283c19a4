"""On Windows the tools that need nginx and signals say so in one sentence, instead of a traceback."""

from __future__ import annotations

import os

import pytest

from tools import bench, screenshots, stack


@pytest.mark.parametrize(
    ("tool", "command"), [(stack, "tools.stack"), (bench, "tools.bench"), (screenshots, "tools.screenshots")]
)
def test_each_tool_refuses_windows_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tool: object, command: str
) -> None:
    monkeypatch.setattr(os, "name", "nt")
    assert tool.main([]) == 1  # type: ignore[attr-defined]
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.strip() == (
        f"python -m {command} needs Linux, macOS or WSL (Windows Subsystem for Linux): it runs nginx and stops "
        "processes with signals, which Windows does not have. The site itself runs on Windows."
    )
