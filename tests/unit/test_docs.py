"""/docs: FastAPI's API documentation, served from this site under its Content Security Policy."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from webapp.main import create_app
from webapp.settings import Settings


def test_docs_page_loads_swagger_ui_from_this_site(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["/docs-assets/swagger-ui-bundle.js", "/static/docs.js"]
    assert "style-src 'self' 'unsafe-inline'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    bundle = client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"SwaggerUIBundle" in bundle.content
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/guestbook"]["post"]


def test_the_openapi_document_describes_every_json_response() -> None:
    schema = create_app(Settings(database_url="sqlite://")).openapi()
    # The lesson's /ping is written as the lesson writes it, with no return annotation.
    assert schema["paths"]["/ping"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {}
    for path, operations in schema["paths"].items():
        if path == "/ping":
            continue
        for method, operation in operations.items():
            success = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][success].get("content", {}).get("application/json", {})
            assert content.get("schema") not in (None, {}), f"{method.upper()} {path} has no response model"
