"""A class on one server: where the stack listens, the limits it sets for a room, and the address it shares."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tools import stack
from tools.stack import CLASS_LIMITS, CLIENT_LIMITS, LIMIT_REASONS, listen_addresses, parse_args, render_site_config
from webapp import network
from webapp.launch import launch_of


def _config(run_dir: Path, **options: object) -> str:
    return render_site_config(
        run_dir=run_dir,
        worker_ports=[9001, 9002],
        http_port=8080,
        https_port=8443,
        certificate=run_dir / "tls.crt",
        certificate_key=run_dir / "tls.key",
        proxy_secret="only-nginx-knows",
        server_names=["localhost", "127.0.0.1"],
        **options,  # type: ignore[arg-type]
    )


def test_the_stack_listens_on_this_machine_alone_unless_told_where_else(tmp_path: Path) -> None:
    alone = _config(tmp_path)
    assert re.findall(r"listen (\S+?):(8080|8443)", alone) == [("127.0.0.1", "8080"), ("127.0.0.1", "8443")]
    opened = _config(tmp_path, listen=["0.0.0.0"])
    assert re.findall(r"listen (\S+?):(?:8080|8443)", opened) == ["0.0.0.0", "0.0.0.0"]
    one_network = _config(tmp_path, listen=["192.168.0.5"])
    assert re.findall(r"listen (\S+?):8080", one_network) == ["127.0.0.1", "192.168.0.5"]


def test_class_mode_listens_everywhere_with_a_rooms_limits(tmp_path: Path) -> None:
    args = parse_args(["--class"])
    assert args.class_mode and args.listen is None  # main() makes that 0.0.0.0
    for limits in (CLIENT_LIMITS, CLASS_LIMITS):
        config = _config(tmp_path, limits=limits)
        assert f"limit_conn connections_per_address {limits['connections']};" in config
        assert f"rate={limits['requests_per_second']}r/s" in config
        assert f"limit_conn live_streams_per_address {limits['live_streams']};" in config
        assert f"burst={limits['static_burst']} nodelay" in config
    # A room of 60 behind one address: a browser opens up to 6 connections; one /spectrum load asks for ~48 files.
    assert CLASS_LIMITS["connections"] >= 60 * 6
    assert CLASS_LIMITS["static_burst"] >= 60 * 48
    assert CLASS_LIMITS["live_streams"] > 60
    # The guestbook's limits stay as they are.
    assert (CLASS_LIMITS["posts_per_minute"], CLASS_LIMITS["post_burst"]) == (
        CLIENT_LIMITS["posts_per_minute"],
        CLIENT_LIMITS["post_burst"],
    )
    assert set(LIMIT_REASONS) == set(CLASS_LIMITS) == set(CLIENT_LIMITS)


def test_the_live_stream_alone_is_passed_on_unbuffered(tmp_path: Path) -> None:
    config = _config(tmp_path)
    events = config.split("location = /live/events {", 1)[1].split("\n        }", 1)[0]
    assert "proxy_buffering off;" in events
    assert config.count("proxy_buffering off;") == 1
    live = config.split("location = /live {", 1)[1].split("\n        }", 1)[0]
    assert "error_page 502 /static/errors/live.html;" in live  # every worker down: nginx's own page says so
    assert "error_page 403 404 /static/errors/404.html;" in live  # the others are named again, not lost
    assert re.search(r"access_log \S+ site buffer=\S+ flush=250ms", config)


def test_listen_takes_ipv4_addresses_and_keeps_127_0_0_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert listen_addresses(["192.168.0.5"]) == ["127.0.0.1", "192.168.0.5"]
    assert listen_addresses(["0.0.0.0", "10.0.0.2"]) == ["0.0.0.0"]
    with pytest.raises(SystemExit):
        parse_args(["--listen", "example.com"])
    assert "example.com" in capsys.readouterr().err


def test_the_stack_answers_to_the_addresses_students_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "lan_addresses", lambda: ["192.168.0.5"])
    assert "192.168.0.5" in stack.default_server_names(["0.0.0.0"])
    assert "10.1.2.3" in stack.default_server_names(["10.1.2.3"])
    assert "192.168.0.5" not in stack.default_server_names()
    assert network.student_urls(["0.0.0.0"], 8080) == ["http://192.168.0.5:8080/"]
    assert network.student_urls(["127.0.0.1"], 8080) == []
    assert network.student_urls(["10.1.2.3"], 80) == ["http://10.1.2.3/"]


def test_a_uvicorn_started_for_others_is_told_apart_by_its_host() -> None:
    assert launch_of(["/p/.venv/bin/uvicorn", "webapp.main:app", "--host", "0.0.0.0"], has_parent=False).host == (
        "0.0.0.0"
    )
    assert launch_of(["/p/.venv/bin/uvicorn", "webapp.main:app", "--port=9000"], has_parent=False).port == 9000
    assert network.beyond_this_machine("0.0.0.0")
    assert not network.beyond_this_machine("127.0.0.1")
    assert not network.beyond_this_machine("localhost")


def test_the_qr_code_reads_as_the_address() -> None:
    import segno

    url = "http://192.168.0.5:8080/"
    image = io.BytesIO()
    segno.make(url, error="m", micro=False).save(image, kind="png", scale=6, border=4)
    image.seek(0)
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(image))] == [url]
    svg = network.qr_svg(url)
    assert svg.startswith("<svg") and "<script" not in svg
    terminal = network.qr_terminal(url)
    assert len(terminal.splitlines()) > 10 and "█" in terminal


def test_the_advice_names_the_port() -> None:
    advice = dict(network.reach_advice(lambda text: text, 18080))
    assert "18080/tcp" in advice["Linux"]
    assert set(advice) >= {"Windows", "macOS", "Linux"}
