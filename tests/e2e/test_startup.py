"""Right after a code edit restarts the site under --reload, the database pages answer as before.

The new process answers /ping before it opens its database (webapp/storage.py): a page that needs the
database then waits for it, once, and is counted like any other.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.support import README_RELOAD_ARGS, copy_project, run_site

RELOAD_SECONDS = 15  # generous: a shared 2-core machine restarting the site
NOTICE = "database unavailable"
STORED_VIEWS = re.compile(r'id="stored-views" data-value="(\d+)">')


def stored_views(page: httpx.Response) -> int:
    assert page.status_code == 200, page.text
    assert NOTICE not in page.text
    found = STORED_VIEWS.search(page.text)
    assert found, page.text
    return int(found.group(1))


def test_database_pages_answer_during_and_right_after_the_restart_a_code_edit_makes(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}"}
    with run_site(*README_RELOAD_ARGS, app_dir=project, cwd=project, env=env) as server:
        assert stored_views(server.get("/dynamic?lang=en")) == 1
        pid_before = server.get("/api/now").json()["pid"]

        main = project / "webapp" / "main.py"
        main.write_text(main.read_text().replace('return {"message": "pong"}', 'return {"message": "restarted"}'))
        # Pages asked while the server restarts: answered by the old process, or waiting for the new one.
        views = []
        deadline = time.monotonic() + RELOAD_SECONDS
        while server.get("/ping").json() != {"message": "restarted"}:
            assert time.monotonic() < deadline, f"no restart within {RELOAD_SECONDS} s:\n{server.output()}"
            views.append(stored_views(server.get("/dynamic?lang=en")))
        assert server.get("/api/now").json()["pid"] != pid_before

        # The new process's first database pages, right after its first /ping.
        views.append(stored_views(server.get("/dynamic?lang=en")))
        listed = server.get("/api/guestbook")
        assert listed.status_code == 200 and listed.json()["entries"] == [], listed.text
        posted = httpx.post(f"{server.url}/api/guestbook", json={"name": "재시작", "message": "바로 뒤"}, timeout=10)
        assert posted.status_code == 201, posted.text
        assert server.get("/api/guestbook").json()["entries"][0]["message"] == "바로 뒤"
        assert views == list(range(2, len(views) + 2))  # every view counted once, none lost in the restart
    assert "Traceback" not in server.output()
