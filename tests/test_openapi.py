"""The OpenAPI document, checked by an independent validator (openapi-spec-validator) and
against the hub's real answers; and /docs rendered by headless Chromium with every request
that leaves the hub refused, as on a network with no way out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from parley.api import schemas as bodies

from .conftest import PartyHandle, Server

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_openapi_document_is_valid_and_says_what_the_hub_does(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    validate(spec)  # raises with the offending path if the document is not OpenAPI 3.1
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the party's token, as printed by `parley party add`",
    }
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]

    for method, path, op in operations(spec):
        # the hub answers invalid input with 400; a 422 is for refused submissions only
        if "422" in op["responses"]:
            assert (method, path) == ("post", "/api/v1/submissions")
        for status, response in op["responses"].items():
            if status.startswith("4"):
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}
        if op.get("security"):
            assert op["security"] == [{"bearer": []}] and "401" in op["responses"], path

    paths = spec["paths"]
    submit = paths["/api/v1/submissions"]["post"]
    assert {"400", "401", "403", "404", "409", "413", "415", "422"} <= set(submit["responses"])
    assert submit["requestBody"]["content"]["application/jose"]["schema"]["type"] == "string"
    media = {
        "/log/tile/{path}": "application/octet-stream",
        "/log/checkpoint": "text/plain",
        "/api/v1/alerts/stream": "text/event-stream",
    }
    for path, wanted in media.items():
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [wanted]
    assert "security" not in paths["/log/checkpoint"]["get"]

    # every operation documented as needing a token really answers 401 without one, as a
    # problem; and the hub's other errors are documented where they happen
    for method, path, op in operations(spec):
        if not op.get("security") or "{" in path:
            continue
        answer = httpx.request(method, f"{server.url}{path}", timeout=10)
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.headers["content-type"] == "application/problem+json"
    with server.client(parties["alpha"]) as a:
        bad = a.http.get("/api/v1/conflicts", params={"state": "closed"})
        assert bad.status_code == 400 and "400" in paths["/api/v1/conflicts"]["get"]["responses"]
        wrong = a.http.post("/api/v1/submissions", content=b"x", headers={"content-type": "a/b"})
        assert wrong.status_code == 415
        missing = a.http.get("/api/v1/submissions/nothing-here")
        assert missing.status_code == 404
        assert "404" in paths["/api/v1/submissions/{submission_id}"]["get"]["responses"]
    for kind in bodies.BODIES:
        assert spec["components"]["schemas"][f"Body-{kind}"]["type"] == "object"
        assert f"/schemas/{kind}.json" in submit["description"]
    unknown = httpx.get(f"{server.url}/schemas/nothing.json")
    assert unknown.status_code == 404 and unknown.json()["field"] == "name"
    tile = httpx.get(f"{server.url}/log/checkpoint")
    assert tile.headers["content-type"].startswith("text/plain")


@pytest.mark.browser
@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", [""])  # the document does not depend on the backend
def test_docs_render_offline_in_chromium(server: Server, tmp_path: Path) -> None:
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if os.environ.get("PARLEY_REQUIRE_POSTGRES"):
            pytest.fail(f"browser tests are required here, but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    html = httpx.get(f"{server.url}/docs").text
    assert "cdn." not in html and "https://" not in html
    refused: list[str] = []
    served: list[str] = []

    def only_the_hub(route: Route) -> None:
        url = route.request.url
        if url.startswith(server.url + "/"):
            served.append(url)
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_hub)
            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=60_000)
            rendered = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/v1/submissions" in text for text in rendered)
            assert any("/api/v1/conflicts" in text for text in rendered)
            # the bearer scheme is offered for the whole API
            assert page.locator(".btn.authorize").count() == 1
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
    assert refused == []  # nothing was even attempted outside the hub
    assert f"{server.url}/docs/assets/swagger-ui-bundle.js" in served
    assert f"{server.url}/openapi.json" in served
