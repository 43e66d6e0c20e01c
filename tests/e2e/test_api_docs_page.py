"""``/docs`` in Chromium (issue 14, point 4): Swagger UI from this origin only, under the CSP.

The page must show the API (its title and operations) while every request it makes goes to the
service itself: nothing to a CDN, no web font, no validator badge; and the browser reports no
Content-Security-Policy violation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Recorder, Services, origin


def test_api_docs_load_from_this_origin_only(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    csp: list[str] = []
    page.on(
        "console",
        lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto(services.url + "/docs")
    assert response is not None
    assert response.status == 200
    headers = response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"

    title = page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert title is not None
    assert "TipLedger" in title.inner_text()
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() >= 10  # the operations are listed
    # Open one operation: its Markdown description and schemas render too.
    page.locator(".swagger-ui .opblock-summary").first.click()
    page.wait_for_selector(".swagger-ui .opblock-body", timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "api-docs.png", full_page=False)

    assert recorder.foreign({origin(services.url)}) == []
    assert csp == []
    assert not [p for p in recorder.problems if "Content Security Policy" in p]
    assert recorder.cookies == []
