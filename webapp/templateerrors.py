"""A template that cannot be rendered: which one, where, and what kind of mistake, in the page's language.

Jinja checks a template's mtime on each render, so a learner's edit to templates/ shows on the
next reload, and so does a mistake in it. servererrors.py answers the request (the owner in
development sees what is said here; anyone else the site's 500 page); the practice page checks
each template with check_template as it is saved.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError

from webapp.i18n import LANGUAGES, N_
from webapp.templating import Templates, UnknownRoute

TITLE = N_("The template could not be rendered")
WHERE = N_("Template <code>%(name)s</code>, line %(line)s")
WHERE_NO_LINE = N_("Template <code>%(name)s</code>")
JINJAS_WORDS = N_("Jinja's own message:")
TERMINAL = N_(
    "The terminal that runs uvicorn shows the full traceback. Fix the template and save it: "
    "the next reload renders it again, with no restart."
)
# What each kind of mistake means: the first that matches (a subclass before its base).
KINDS: tuple[tuple[type[TemplateError], str], ...] = (
    (
        UnknownRoute,
        N_("The template links to a page the site does not have: no route has the name given to url_for()."),
    ),
    (
        TemplateSyntaxError,
        N_("Jinja cannot read the template: a tag, an expression or a filter in it is not written as Jinja expects."),
    ),
    (
        UndefinedError,
        N_("The template uses a value the page does not give it: a misspelled name, or an attribute it lacks."),
    ),
    (TemplateNotFound, N_("The template, or one it includes or extends, does not exist.")),
    (TemplateError, N_("The template stopped while it was being rendered.")),
)


@dataclass(frozen=True)
class TemplateProblem:
    """A template that cannot be compiled or rendered. `name` is the file under templates/ with the mistake;
    `line` counts from 1 (None if Jinja does not say); `message` is a catalogue message (English) for the kind
    of mistake: show it with the page's gettext; `detail` is Jinja's own message, in English."""

    name: str
    line: int | None
    message: str
    detail: str

    @property
    def log_line(self) -> str:
        """Where and what, for the terminal (Jinja's words are English, as is its traceback)."""
        return f"{self.name}, line {self.line}: {self.detail}"

    def owner_html(self, gettext: Callable[[str], str]) -> str:
        """The body of the owner's page: where, the kind of mistake in the page's language, then Jinja's words."""
        name = html.escape(self.name)
        # The translations are the site's own markup (<code>), as in its templates; the name is escaped.
        where = gettext(WHERE if self.line else WHERE_NO_LINE) % {"name": name, "line": self.line}
        return (
            f'<p id="template-where">{where}</p>\n'
            f'<p id="template-problem">{html.escape(gettext(self.message))}</p>\n'
            f"<p>{html.escape(gettext(JINJAS_WORDS))}</p>\n"
            f'<pre id="template-detail">{html.escape(self.detail)}</pre>\n'
            f"<p>{html.escape(gettext(TERMINAL))}</p>\n"
        )


def check_template(templates: Templates, name: str) -> TemplateProblem | None:
    """Given the site's templates and a template's name, compile it in each language (each has its own text
    compiled in); return the first problem found, or None if it compiles."""
    for language in LANGUAGES:
        try:
            templates.get_template(language, name)
        except TemplateError as error:
            return problem_of(error)
    return None


def problem_of(error: TemplateError, templates_dir: Path | None = None) -> TemplateProblem:
    """Given Jinja's error (with the traceback Jinja rewrote to point into templates), return where it is and what."""
    name: str | None = None
    line: int | None = None
    if isinstance(error, TemplateSyntaxError):
        name, line = error.name, error.lineno
    elif templates_dir is not None:
        name, line = last_template_line(error.__traceback__, templates_dir) or (None, None)
    if name is None and isinstance(error, TemplateNotFound) and isinstance(error.name, str):
        name = error.name
    message = next(sentence for kind, sentence in KINDS if isinstance(error, kind))
    return TemplateProblem(str(name or "?"), line, message, error.message or type(error).__name__)


def last_template_line(traceback: TracebackType | None, templates_dir: Path) -> tuple[str, int] | None:
    """Given a traceback, return the innermost template (its name under templates_dir) and line in it."""
    found = None
    while traceback is not None:
        if name := template_of(traceback.tb_frame.f_code.co_filename, traceback.tb_frame.f_globals, templates_dir):
            found = (name, traceback.tb_lineno)
        traceback = traceback.tb_next
    return found


def template_of(filename: str, frame_globals: dict[str, object], templates_dir: Path) -> str | None:
    """Given a frame's file and globals, return the template's name under templates_dir if the frame is one of
    Jinja's for template code (Jinja replaces each such frame by one that points at the template's file and line)."""
    if "__jinja_exception__" not in frame_globals:
        return None
    path = Path(filename)
    return path.relative_to(templates_dir).as_posix() if path.is_relative_to(templates_dir) else None
