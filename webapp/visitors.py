"""Who a request came from: an address to show, and whether two requests came from the same visitor.

A visitor is an IP address: the one uvicorn saw, or behind nginx the one nginx
passed on in X-Forwarded-For. Everyone on one laptop is 127.0.0.1, so a learner
sees all of their own requests; on a server, each visitor sees their own.
"""

from __future__ import annotations

from starlette.types import Scope


def format_address(host: str, port: int | None) -> str:
    """Given a host and port, return them as written in a URL: 127.0.0.1:5000, [::1]:5000, or the host alone."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def visitor_of(scope: Scope) -> str:
    """The visitor's IP address, or "" when the server does not know it."""
    client = scope.get("client")
    return client[0] if client else ""


def same_visitor(viewer: str, other: str) -> bool:
    return bool(viewer) and viewer == other
