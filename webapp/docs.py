"""FastAPI's interactive API documentation, served without a CDN.

FastAPI's own /docs page loads Swagger UI from a CDN and starts it with an
inline script; this site runs offline and allows only its own scripts, so the
Swagger UI files come from the fastapi-offline package and the start-up code
is a static file.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import Response

from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.static import CachedStaticFiles
from webapp.templating import render

SWAGGER_UI_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
# Swagger UI sets style attributes from its scripts; only this page allows that.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def install(app: FastAPI) -> None:
    app.mount("/docs-assets", CachedStaticFiles(directory=SWAGGER_UI_DIR, cache_control="no-cache"), name="docs_assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui_html(request: Request) -> Response:
        return render(
            request,
            "docs.html",
            {"openapi_url": request.app.openapi_url},
            headers={"Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY},
        )
