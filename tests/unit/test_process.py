"""ProcessInfo: this process's pid, its response counter and what each template was last rendered with."""

from __future__ import annotations

import os

from webapp.process import ProcessInfo, Render, now


def test_numbers_count_up_from_one_per_process_info() -> None:
    first, second = ProcessInfo(), ProcessInfo()
    assert [first.next_number() for _ in range(3)] == [1, 2, 3]
    assert second.next_number() == 1
    assert first.pid == os.getpid()


def test_the_last_render_of_each_template_is_remembered() -> None:
    process = ProcessInfo()
    assert process.last_render("dynamic.html") is None
    process.record_render("dynamic.html", {"counter": 1}, visitor="127.0.0.1")
    process.record_render("dynamic.html", {"counter": 2}, visitor="127.0.0.2")
    process.record_render("other.html", {"x": "y"}, visitor="127.0.0.1")
    assert process.last_render("dynamic.html") == Render({"counter": 2}, "127.0.0.2")
    assert process.last_render("other.html") == Render({"x": "y"}, "127.0.0.1")


def test_now_carries_the_servers_utc_offset() -> None:
    assert now().utcoffset() is not None
