"""nginx's error lines as the stack writes them: nothing a visitor typed, and a bounded number a second."""

from __future__ import annotations

from tools.errorlog import MAX_LINE, LineBudget, cleaned

LINE = (
    b"<187>Dec  6 05:13:34 nginx: 2026/12/06 05:13:34 [error] 15255#15255: *2 connect() failed (111: Connection "
    b'refused) while connecting to upstream, client: 192.0.2.9, server: localhost, request: "GET /log?name=Jiwoo '
    b'HTTP/1.1", upstream: "http://127.0.0.1:25599/log?name=Jiwoo", host: "localhost", referrer: "http://x/?q=1"'
)


def test_a_line_keeps_what_went_wrong_and_loses_the_query_strings_and_the_referrer() -> None:
    line = cleaned(LINE)
    assert line.startswith("2026/12/06 05:13:34 [error] 15255#15255: *2 connect() failed")
    assert 'request: "GET /log HTTP/1.1"' in line and 'upstream: "http://127.0.0.1:25599/log"' in line
    assert "Jiwoo" not in line and "referrer" not in line and "q=1" not in line


def test_a_long_or_broken_line_is_cut_and_stays_one_line() -> None:
    line = cleaned(b"<187>Dec 16 05:13:34 nginx: " + b"x" * 5000 + b"\n\xff" + b"y" * 10)
    assert len(line) == MAX_LINE + 1 and "\n" not in line


def test_the_budget_lets_a_burst_through_then_so_many_a_second_and_counts_the_rest() -> None:
    budget = LineBudget(per_second=20, burst=100)
    taken = [budget.take(now=0.0) for _ in range(1000)]
    assert taken.count(True) == 100 and budget.refused == 900
    assert sum(budget.take(now=1.0) for _ in range(100)) == 20  # a second later: 20 more
