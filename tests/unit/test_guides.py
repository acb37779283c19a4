"""What the READMEs and guides say is what the site shows: the reference run's figures, /spectrum's steps, and
links that open each page in the guide's own language."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tests.support import markdown_table
from webapp.benchresults import BenchRun, latest_run
from webapp.paths import BENCH_DIR, PROJECT_ROOT

GUIDES = ["README.md", "README.en.md", *(f"docs/{path.name}" for path in sorted((PROJECT_ROOT / "docs").glob("*.md")))]
BENCH_TEMPLATE = PROJECT_ROOT / "templates" / "bench.html"
COUNTS = {"ko": ["하나", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열"],
          "en": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]}  # fmt: skip
SITE_LINK = re.compile(r"\(?<?(http://127\.0\.0\.1:8000(/[^)>\s]*))")


def _language(guide: str) -> str:
    return "en" if guide.endswith(".en.md") else "ko"


def _text(guide: str) -> str:
    return (PROJECT_ROOT / guide).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference() -> BenchRun:
    run = latest_run(BENCH_DIR / "no-own-runs-here", BENCH_DIR)
    assert run is not None and run.source == "reference"
    return run


def _labels(name: str, language: str) -> dict[str, str]:
    """Given a label table of bench.html (case_labels, claim_labels), return its labels as /bench shows them."""
    block = re.search(r"\{% set " + name + r" = \{(.*?)\} %\}", BENCH_TEMPLATE.read_text(encoding="utf-8"), re.DOTALL)
    assert block, f"bench.html has no {name}"
    with (PROJECT_ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = {str(message.id): str(message.string) for message in read_po(po) if message.id}
    return {key: catalogue.get(msgid) or msgid for key, msgid in re.findall(r'"(\w+)": _\("(.*?)"\)', block.group(1))}


def _ratio_cell(row: dict[str, Any], labels: dict[str, str], language: str) -> str:
    if row["name"] == row["baseline"]:
        return "기준" if language == "ko" else "baseline"
    if language == "ko":
        return f"{labels[row['baseline']]} 대비 {row['ratio']:.3f}배"
    return f"{row['ratio']:.3f} \u00d7 {labels[row['baseline']]}"


@pytest.mark.parametrize(("guide", "header"), [("docs/benchmark.md", "측정 항목"), ("docs/benchmark.en.md", "case")])
def test_the_benchmark_guide_shows_the_reference_runs_rows_as_the_bench_page_does(
    reference: BenchRun, guide: str, header: str
) -> None:
    language = _language(guide)
    labels = _labels("case_labels", language)
    expected = [
        [
            labels[row["name"]],
            row["server"],
            f"{row['requests_per_second']:,.0f}",
            f"{row['latency_p50_ms']:.2f}",
            f"{row['latency_p99_ms']:.2f}",
            f"{row['cpu_us_per_request']:,.0f}" if row.get("cpu_us_per_request") else "—",
            _ratio_cell(row, labels, language),
        ]
        for row in reference.results["rows"]
    ]
    assert markdown_table(_text(guide), header) == expected


@pytest.mark.parametrize(
    ("guide", "header"), [("docs/benchmark.md", "수업 내용 검증"), ("docs/benchmark.en.md", "claim")]
)
def test_the_benchmark_guide_shows_the_reference_runs_claims(reference: BenchRun, guide: str, header: str) -> None:
    language = _language(guide)
    labels = _labels("claim_labels", language)
    met = {True: "달성", False: "미달"} if language == "ko" else {True: "met", False: "not met"}
    expected = [
        [
            labels[target["name"]],
            f"{target['ratio']:.2f}",
            f"≥ {target['at_least']:g}" if target["at_least"] is not None else f"≤ {target['at_most']:g}",
            met[target["met"]],
        ]
        for target in reference.results["targets"]
    ]
    assert markdown_table(_text(guide), header) == expected


@pytest.mark.parametrize("guide", ["docs/benchmark.md", "docs/benchmark.en.md"])
def test_the_benchmark_guide_quotes_the_reference_runs_figures(reference: BenchRun, guide: str) -> None:
    results, text = reference.results, _text(guide)
    in_process, split, writes = (
        results["in_process_us"],
        results["in_process_us"]["dynamic_split"],
        results["writes_us"],
    )
    said = re.sub(r"\s+", " ", text)
    micro = reference.requests_per_second("dynamic_microcached") or 0.0
    prerendered = reference.requests_per_second("prerendered_nginx") or 0.0
    dynamic_nginx = reference.requests_per_second("dynamic_nginx") or 1.0
    static_nginx = reference.requests_per_second("static_nginx") or 1.0
    figures = [
        *(f"{in_process[key]:.0f} µs" for key in ("bare_fastapi_ping", "site_ping", "template_page", "dynamic")),
        *(f"{split[key]:.0f} µs" for key in ("database", "template", "framework")),
        f"{writes['site_count_view_us']:.1f} µs",
        f"{writes['raw_sqlite_upsert_us']:.1f} µs",
        f"{results['middleware_overhead_us']:.1f} µs",
        f"{micro:,.0f}",
        f"{prerendered:,.0f}",
        f"{round(micro / dynamic_nginx)}",
        f"{round(prerendered / dynamic_nginx)}",
        f"{micro / static_nginx:.2f}",
        f"{round(reference.static_speedup or 0)}",
        results["machine"]["nginx"],
        results["machine"]["wrk"],
        f"Python {results['machine']['python']}",
    ]
    assert [figure for figure in figures if figure not in said] == []
    date = reference.measured_at
    assert (
        f"{date.year}년 {date.month}월 {date.day}일" if _language(guide) == "ko" else date.date().isoformat()
    ) in said


@pytest.mark.parametrize(
    ("guide", "said"), [("docs/database.md", "약 {}배"), ("docs/database.en.md", "about {} times")]
)
def test_the_database_guide_quotes_the_page_view_write_cost_of_the_reference_run(
    reference: BenchRun, guide: str, said: str
) -> None:
    writes = reference.results["writes_us"]
    ratio = writes["site_count_view_us"] / writes["raw_sqlite_upsert_us"]
    sentence = next(
        line for line in _text(guide).splitlines() if "sqlite3" in line and ("배" in line or "times" in line)
    )
    assert said.format(f"{ratio:.1f}") in sentence


def _spectrum_section(guide: str) -> str:
    heading = "## 정적과 동적 사이" if _language(guide) == "ko" else "## Between static and dynamic"
    return _text(guide).split(heading, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("guide", ["README.md", "README.en.md"])
def test_the_readme_counts_as_many_steps_as_the_spectrum_page_has(client: TestClient, guide: str) -> None:
    language = _language(guide)
    page = client.get("/spectrum", params={"lang": language})
    assert page.status_code == 200, page.text
    steps = len(re.findall(r'<li class="step"[^>]*>\s*<h2', page.text))
    assert steps > 1
    section = _spectrum_section(guide)
    assert len(re.findall(r"^\d+\. \*\*", section, re.MULTILINE)) == steps
    word = COUNTS[language][steps - 1]
    assert re.search(rf"\b{word}\s+steps\b" if language == "en" else rf"{word}\s+단계", section), word


def _site_links(guide: str) -> list[str]:
    return [path for _, path in SITE_LINK.findall(_text(guide))]


@pytest.mark.parametrize("guide", GUIDES)
def test_every_link_to_a_page_that_chooses_its_language_asks_for_the_guides_own(client: TestClient, guide: str) -> None:
    language, other = ("en", "ko") if _language(guide) == "en" else ("ko", "en")
    wrong = []
    for link in _site_links(guide):
        path = urlsplit(link).path
        if path.startswith("/static/"):
            continue
        pages = [client.get(path, params={"lang": lang}).text for lang in (language, other)]
        chooses = [f'<html lang="{lang}"' in page for lang, page in zip((language, other), pages, strict=True)]
        if all(chooses) and parse_qs(urlsplit(link).query).get("lang") != [language]:
            wrong.append(link)
    assert wrong == [], f"{guide}: add ?lang={language}"


@pytest.mark.parametrize("guide", GUIDES)
def test_every_link_to_a_static_page_opens_the_guides_own_language(guide: str) -> None:
    english = _language(guide) == "en"
    static_pages = [urlsplit(link).path for link in _site_links(guide) if urlsplit(link).path.endswith(".html")]
    static_pages = [path for path in static_pages if path.startswith("/static/")]
    assert [path for path in static_pages if path.startswith("/static/en/") != english] == []


def test_the_language_link_checks_tell_a_page_that_chooses_its_language(client: TestClient) -> None:
    """The checks above read links this way: a page that chooses its language by ?lang, and one that does not."""
    assert SITE_LINK.findall("[/dynamic](http://127.0.0.1:8000/dynamic?name=x)")[0][1] == "/dynamic?name=x"
    page = client.get("/dynamic", params={"lang": "en"}).text
    assert '<html lang="en"' in page
    assert '<html lang="ko"' in client.get("/dynamic", params={"lang": "ko"}).text
    assert parse_qs(urlsplit("/dynamic?lang=ko&name=x").query).get("lang") == ["ko"]
    assert '<html lang="' not in client.get("/ping").text
