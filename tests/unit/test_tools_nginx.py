"""The nginx configurations: the stack's and the benchmark's bare one, filled in from one family of templates."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tools import nginx
from tools.stack import render_site_config
from webapp.headers import SECURITY_HEADERS
from webapp.paths import PROJECT_ROOT, STATIC_DIR


def _site(run_dir: Path) -> str:
    return render_site_config(
        run_dir=run_dir,
        worker_ports=[9001, 9002],
        http_port=8080,
        https_port=8443,
        certificate=run_dir / "tls.crt",
        certificate_key=run_dir / "tls.key",
        proxy_secret="only-nginx-knows",
        server_names=["localhost", "127.0.0.1", "classroom"],
    )


def _bare(run_dir: Path) -> str:
    return nginx.render_config(nginx.BARE_TEMPLATE, run_dir=run_dir, http_port=8081, static_dir=STATIC_DIR)


def test_both_configurations_keep_everything_in_their_run_directory(tmp_path: Path) -> None:
    for config in (_site(tmp_path), _bare(tmp_path)):
        assert f"pid {tmp_path}/nginx.pid;" in config
        assert f"error_log {tmp_path}/error.log warn;" in config
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            assert f"{temp}_temp_path {tmp_path}/{temp};" in config
        assert f"include {nginx.mime_types_path()};" in config


def test_the_stack_serves_static_files_itself_and_proxies_the_rest(tmp_path: Path) -> None:
    config = _site(tmp_path)
    assert f"alias {STATIC_DIR}/;" in config
    assert "server 127.0.0.1:9001 " in config and "server 127.0.0.1:9002 " in config
    assert "listen 127.0.0.1:8443 ssl http2;" in config
    assert 'add_header Cache-Control "no-cache" always;' in config
    for name, value in SECURITY_HEADERS.items():
        assert f'add_header {name} "{value}" always;' in config
    assert config.startswith("# nginx in front of the site")  # the explanation is printed with it


def test_the_bare_baseline_only_sends_files(tmp_path: Path) -> None:
    config = _bare(tmp_path)
    assert "listen 127.0.0.1:8081;" in config
    assert f"alias {STATIC_DIR}/;" in config
    assert "access_log off;" in config
    for absent in ("proxy_pass", "add_header", "gzip", "ssl"):
        assert absent not in config, absent


def test_the_stack_holds_against_one_client(tmp_path: Path) -> None:
    config = _site(tmp_path)
    for line in (
        "server_tokens off;",
        "client_header_timeout 10s;",
        "client_body_timeout 10s;",
        "send_timeout 10s;",
        "keepalive_timeout 15s;",
        "limit_conn connections_per_address 32;",
        "limit_req zone=requests_per_address burst=40 nodelay;",
        "limit_req zone=posts_per_address burst=5 nodelay;",
        "limit_req_status 429;",
        'proxy_set_header X-Proxy-Secret "only-nginx-knows";',
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "absolute_redirect off;",
        "ssl_session_tickets off;",
        "server_name localhost 127.0.0.1 classroom;",
        "error_page 502 /static/errors/502.html;",
    ):
        assert line in config, line
    connections = int(re.search(r"worker_connections (\d+);", config).group(1))  # type: ignore[union-attr]
    files = int(re.search(r"worker_rlimit_nofile (\d+);", config).group(1))  # type: ignore[union-attr]
    assert 2 * connections <= files, "a proxied request needs two files"
    for status in (404, 413, 429, 502, 503, 504):
        assert (STATIC_DIR / "errors" / f"{status}.html").is_file()


def test_workers_never_run_as_root(tmp_path: Path) -> None:
    config = _site(tmp_path)
    if os.geteuid() == 0:
        assert re.search(r"^user nobody \S+;$", config, re.MULTILINE)
    else:
        assert "\nuser " not in config  # an unprivileged nginx cannot change user: it runs as who started it


def test_the_printed_header_points_at_the_guides_that_say_how_to_adapt_it(tmp_path: Path) -> None:
    config = _site(tmp_path)
    header = config[: config.index("\n\n")]  # the comment --print-config starts with
    guides = re.findall(r"docs/[\w.]+\.md", header)
    assert guides == ["docs/stack.md", "docs/stack.en.md"], header
    assert "README" not in header
    for guide in guides:
        text = (PROJECT_ROOT / guide).read_text(encoding="utf-8")
        last_section = text[text.rindex("\n## ") :]
        assert "--print-config" in last_section and "WEBAPP_PROXY_SECRET" in last_section, guide
    assert '"The configuration"' in header and "\n## The configuration\n" in (PROJECT_ROOT / guides[1]).read_text()
