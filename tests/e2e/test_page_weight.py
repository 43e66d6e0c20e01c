"""What a reporter's phone downloads (issue 13, part 6): the submit page with everything it
loads is at most 200 KB on the wire (text served gzip-compressed), and every page says what it
is for in a meta description. The figure is printed (pytest -s)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Services, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

BUDGET = 200 * 1024


def _transferred(browser: Any, url: str) -> tuple[int, int, list[str]]:
    """Bytes on the wire (headers and bodies) for ``url`` in a fresh tab, the bytes unpacked,
    and the responses that came uncompressed although they are text."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    wire, unpacked, plain = 0, 0, []

    def finished(request: Any) -> None:
        nonlocal wire, unpacked
        sizes = request.sizes()
        wire += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        response = request.response()
        body = len(response.body()) if response is not None and response.status == 200 else 0
        unpacked += body
        kind = (response.headers.get("content-type", "") if response else "").split(";")[0]
        encoded = response is not None and response.headers.get("content-encoding") == "gzip"
        if body > 1024 and kind.startswith(("text/", "application/json")) and not encoded:
            plain.append(request.url)

    page.on("requestfinished", finished)
    open_page(page, url)
    page.wait_for_load_state("networkidle")
    context.close()
    return wire, unpacked, plain


def test_the_submit_page_weighs_at_most_200_kb(browser: Any, services: Services) -> None:
    wire, unpacked, plain = _transferred(browser, services.url + "/")
    print(f"submit page: {wire / 1024:.1f} KB transferred ({unpacked / 1024:.1f} KB unpacked)")
    assert plain == []  # every text file came compressed
    assert wire <= BUDGET


@pytest.mark.parametrize("path", ["/", "/receipt", "/status", "/verify", "/?lang=en"])
def test_every_page_has_a_description(browser: Any, services: Services, path: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_page(page, services.url + path)
    description = page.get_attribute("meta[name=description]", "content") or ""
    assert len(description) > 40
    context.close()
