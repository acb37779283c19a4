"""The nginx configurations: the stack's and the benchmark's bare one, filled in from one family of templates."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tools import certificate, nginx
from tools.stack import parse_args, render_site_config
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
    assert "add_header Cache-Control $static_cache_control always;" in config
    assert '200 "no-cache";' in config  # a file's own answer; a refusal is kept by nobody
    for name, value in SECURITY_HEADERS.items():
        assert f"add_header {name} $site_{name.lower().replace('-', '_')} always;" in config
        assert f'default "{value}";' in config
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


def _redirecting(run_dir: Path, *, https_port: int = 8443) -> str:
    return render_site_config(
        run_dir=run_dir,
        worker_ports=[9001],
        http_port=8080,
        https_port=https_port,
        certificate=run_dir / "tls.crt",
        certificate_key=run_dir / "tls.key",
        proxy_secret="only-nginx-knows",
        server_names=["localhost", "127.0.0.1"],
        redirect_to_https=True,
    )


def test_the_stack_offers_only_the_curves_of_mozillas_intermediate_profile(tmp_path: Path) -> None:
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1;" in _site(tmp_path)


def test_plain_http_serves_the_site_unless_told_to_redirect_to_https(tmp_path: Path) -> None:
    config = _site(tmp_path)
    assert "listen 127.0.0.1:8080;\n        listen 127.0.0.1:8443 ssl http2;" in config  # one server for both
    assert "return 301 https://" not in config
    redirecting = _redirecting(tmp_path)
    assert redirecting.count("listen 127.0.0.1:8080;") == 1
    plain = redirecting[redirecting.index("listen 127.0.0.1:8080;") :]
    plain = plain[: plain.index("\n    }\n")]  # the plain HTTP server block, alone
    assert "return 444;" in plain, "a host nginx does not answer to gets no redirect either"
    assert "return 301 https://$host:8443$request_uri;" in plain
    for absent in ("Strict-Transport-Security", "proxy_pass", "ssl"):
        assert absent not in plain, absent
    assert "return 301 https://$host$request_uri;" in _redirecting(tmp_path, https_port=443)


def test_the_certificate_is_a_server_certificate_for_every_name() -> None:
    config = certificate.openssl_config(["localhost", "127.0.0.1", "classroom", "10.1.2.3", "::1", "localhost"])
    for line in (
        "CN = localhost",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature, keyEncipherment",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:classroom, IP:10.1.2.3, IP:::1",
    ):
        assert f"\n{line}\n" in config, line
    assert "CA:TRUE" not in config.upper()


def test_a_certificate_is_made_again_only_for_other_names() -> None:
    assert certificate.made_for(["localhost", "127.0.0.1"]) == certificate.made_for(["127.0.0.1", "LOCALHOST"])
    assert certificate.made_for(["localhost"]) != certificate.made_for(["localhost", "classroom"])


@pytest.mark.parametrize(
    "name", ['class"room', "a,DNS:evil.example", "a b", "a;b", "a\nb", "*.example.org", "-a", "a..b", "", "a" * 64]
)
def test_a_server_name_that_is_not_a_host_name_is_refused(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Each name goes into nginx's configuration and into the certificate: a quote or a comma would change either.
    with pytest.raises(SystemExit):
        parse_args([f"--server-name={name}"])
    assert "--server-name" in capsys.readouterr().err


def test_server_names_are_host_names_or_addresses_in_lower_case() -> None:
    args = parse_args(["--server-name", "ClassRoom.Local", "--server-name", "10.0.0.5", "--server-name", "my_pc"])
    assert args.server_names == ["classroom.local", "10.0.0.5", "my_pc"]
    assert not args.redirect_to_https, "the local demo serves plain HTTP"
