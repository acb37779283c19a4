"""The Jinja environment shared by every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates


def create_templates(directory: Path) -> Jinja2Templates:
    # Starlette's environment escapes HTML in every .html template and, like
    # any Jinja environment, re-reads a template whose file changed on disk:
    # that is why a template edit shows on the next reload without a restart.
    if not directory.is_dir():
        raise RuntimeError(f"Templates directory '{directory}' does not exist")
    return Jinja2Templates(directory=directory)
