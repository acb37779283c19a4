"""A wrong password in DATABASE_URL, as a Korean learner meets it: the real site under uvicorn, on a
Korean system, says why in Korean at start-up and on its pages, and shows the password nowhere."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import postgres_url_or_skip
from tests.support import run_site
from webapp.database import CAUSE_SENTENCES, Cause
from webapp.terminal import translations

PASSWORD = "s3cret-Pw"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_a_wrong_password_is_said_in_korean_at_start_up_and_on_the_page(tmp_path: Path) -> None:
    url = postgres_url_or_skip().replace("webapp:webapp@", f"webapp:{PASSWORD}@")
    assert PASSWORD in url
    korean_system = {"LANG": "ko_KR.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    with run_site(cwd=tmp_path, env={"DATABASE_URL": url, **korean_system}) as server:
        page = server.get("/guestbook", params={"lang": "ko"})
        output = server.output()
    sentence = translations("ko").gettext(CAUSE_SENTENCES[Cause.PASSWORD])
    assert HANGUL.search(sentence), sentence

    start_up = [line for line in output.splitlines() if "password authentication failed for user" in line]
    assert len(start_up) == 1, output
    assert start_up[0].startswith("데이터베이스에 연결할 수 없습니다(database unavailable)."), output
    assert sentence in start_up[0], output
    assert "DATABASE_URL=postgresql+psycopg://webapp:***@127.0.0.1:5432/" in start_up[0], output

    assert page.status_code == 200, page.text
    assert sentence in page.text
    # The cause, not the database server's configuration (the page's own links name the site's address).
    assert not [detail for detail in ("for user", "port 5432", ":5432/", "webapp_test") if detail in page.text]
    assert PASSWORD not in output
    assert PASSWORD not in page.text
