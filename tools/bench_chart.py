"""Draw the benchmark's results as an SVG bar chart, with no plotting library."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH = 900
LABEL_WIDTH = 380
BAR_HEIGHT = 22
ROW_GAP = 8
TOP = 56
COLORS = {"nginx": "#0b57b0", "uvicorn": "#b35900"}


def render_chart(results: dict[str, Any]) -> str:
    """Given the benchmark's results, return an SVG with one bar of requests/s per case."""
    rows = results["rows"]
    most = max(row["requests_per_second"] for row in rows) or 1.0
    bar_space = WIDTH - LABEL_WIDTH - 110
    height = TOP + len(rows) * (BAR_HEIGHT + ROW_GAP) + 40
    title = f"Requests per second, higher is better ({escape(results['date'])}, {results['machine']['cpus']} CPUs)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'font-family="system-ui, sans-serif" font-size="13" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{title}</title>',
        f'<rect width="{WIDTH}" height="{height}" fill="#fdfdfb"/>',
        f'<text x="10" y="24" font-size="16" font-weight="600">{title}</text>',
        f'<rect x="10" y="34" width="12" height="12" fill="{COLORS["nginx"]}"/>'
        '<text x="28" y="45">answered by nginx (web server)</text>',
        f'<rect x="260" y="34" width="12" height="12" fill="{COLORS["uvicorn"]}"/>'
        '<text x="278" y="45">answered by uvicorn (web application server)</text>',
    ]
    for index, row in enumerate(rows):
        y = TOP + index * (BAR_HEIGHT + ROW_GAP)
        width = max(1.0, bar_space * row["requests_per_second"] / most)
        middle = y + BAR_HEIGHT / 2 + 4
        color = COLORS[row["server"]]
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:.0f}" text-anchor="end">{escape(row["label"])}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{color}"/>',
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{middle:.0f}">{row["requests_per_second"]:,.0f}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
