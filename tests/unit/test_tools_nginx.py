"""The nginx configurations: the stack's and the benchmark's bare one, filled in from one family of templates."""

from __future__ import annotations

from pathlib import Path

from tools import nginx
from tools.stack import render_site_config
from webapp.headers import SECURITY_HEADERS
from webapp.paths import STATIC_DIR


def _site(run_dir: Path) -> str:
    return render_site_config(
        run_dir=run_dir,
        worker_ports=[9001, 9002],
        http_port=8080,
        https_port=8443,
        certificate=run_dir / "tls.crt",
        certificate_key=run_dir / "tls.key",
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
