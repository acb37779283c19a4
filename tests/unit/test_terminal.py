"""What the tools print: in Korean when the system's locale is Korean, from the pages' catalogues, aligned."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tools import bench, devpackages, prerender, processes, stack
from webapp import terminal
from webapp.paths import BENCH_DIR


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "ko_KR.eucKR"}, "ko"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}, "en"),  # LC_ALL overrides LANG
        ({"LC_MESSAGES": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ko_KR.UTF-8"}, "ko"),  # an empty variable is not set
        ({}, "en"),
    ],
)
def test_the_system_locale_chooses_the_tools_language(environ: dict[str, str], language: str) -> None:
    assert terminal.system_language(environ, platform="linux") == language


def test_a_windows_with_no_locale_variables_asks_the_user_interface_language() -> None:
    # Here (not Windows) the question has no answer, so English; a LANG set in a Windows shell still decides.
    assert terminal.system_language({}, platform="win32") == "en"
    assert terminal.system_language({"LANG": "ko_KR.UTF-8"}, platform="win32") == "ko"


def test_a_tool_line_is_korean_under_a_korean_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert processes.install_hint("nginx") == (
        "nginx 프로그램이 설치되어 있지 않습니다. Debian, Ubuntu, WSL에서는 sudo apt-get install nginx 명령어로, "
        "macOS에서는 brew install nginx 명령어로 설치해 주세요."
    )
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert processes.install_hint("nginx").startswith("nginx is not installed. Install it with sudo apt-get")


def test_hangul_takes_two_columns_so_values_line_up() -> None:
    lines = terminal.aligned([("nginx(웹 서버)", "http://a/"), ("정적 파일 폴더", "static"), ("TLS", "x")]).splitlines()
    assert len({terminal.width(line.rsplit(" ", 1)[0] + " ") for line in lines}) == 1
    assert terminal.pad("가나", 6) == "가나  " and terminal.pad("ab", 4, right=True) == "  ab"


def _reference_results() -> dict[str, object]:
    results: dict[str, object] = json.loads((BENCH_DIR / "results.json").read_text(encoding="utf-8"))
    return results


def test_the_benchmark_table_speaks_korean_with_the_pages_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    results = _reference_results()
    results["targets"] = [{**target, "met": index != 0} for index, target in enumerate(results["targets"])]  # type: ignore[attr-defined]
    table = bench.format_table(results)
    assert "미달" in table and "NOT met" not in table
    assert "측정 항목" in table and "수업 내용 검증" in table
    for case in bench.CASES:
        assert case.label not in table  # each label is the /bench page's Korean one
    monkeypatch.setenv("LANG", "C.UTF-8")
    english = bench.format_table(results)
    assert "NOT met" in english and all(case.label in english for case in bench.CASES)


def test_every_label_and_claim_the_benchmark_prints_has_a_korean_translation() -> None:
    korean = terminal.translations("ko")
    for text in [*(case.label for case in bench.CASES), *(target.claim for target in bench.TARGETS)]:
        assert korean.gettext(text) != text, text


class _Running:
    pid = 4321


def test_the_stack_banner_is_korean_and_aligned_under_a_korean_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    running = stack.Stack(run_dir=tmp_path, server_names=["localhost"])
    running._workers = [stack.Worker(number, 9000 + number, process=_Running()) for number in (1, 2)]  # type: ignore[arg-type]
    running.announce()
    banner = capsys.readouterr().out.splitlines()
    assert banner[0].startswith("nginx(웹 서버)") and banner[-1] == "끄려면 Ctrl-C를 눌러 주세요."
    assert any(line.startswith("uvicorn 워커 2(WAS)") and line.endswith("pid 4321") for line in banner)
    value_columns = {terminal.width(line[: line.index("http://")]) for line in banner if "http://" in line}
    assert len(value_columns) == 1  # Hangul takes two columns: the addresses still start in one column
    assert not any(word in "\n".join(banner) for word in ("Press", "static files from", "nginx logs"))


def test_a_missing_test_package_gets_one_sentence_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert {"httpx", "playwright", "pytest"} <= devpackages.dev_only_packages()
    assert not {"fastapi", "babel", "uvicorn"} & devpackages.dev_only_packages()
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    monkeypatch.setattr(sys, "argv", ["/checkout/tools/bench.py"])
    sys.excepthook(ModuleNotFoundError, ModuleNotFoundError("No module named 'httpx'", name="httpx"), None)
    said = capsys.readouterr().err
    assert said.startswith("python -m tools.bench 명령어에는") and "python3 install.py --dev" in said
    assert "Traceback" not in said


def test_a_refused_pre_render_says_why_in_korean_under_a_korean_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    static = tmp_path / "static"
    static.mkdir()
    assert prerender.main(["--static-dir", str(static), "--out", str(tmp_path / "elsewhere")]) == 2
    said = capsys.readouterr().err
    assert said.startswith("python -m tools.prerender: --out ")
    assert "정적 파일 폴더" in said and "밖입니다" in said
    assert "outside" not in said


@pytest.mark.parametrize("tool", [stack, bench, prerender])
def test_a_tools_help_describes_it_in_korean_under_a_korean_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tool: object
) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    with pytest.raises(SystemExit):
        tool.main(["--help"])  # type: ignore[attr-defined]
    shown = capsys.readouterr().out
    assert "기본값" in shown or "렌더링" in shown
    assert "(default" not in shown
