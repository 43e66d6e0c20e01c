"""What a new reporter met on a phone (issue 13, part 2), each checked in Chromium at 390x844:
the empty-submit message where the eye is, no "No file chosen" above the chosen files, the
verify page's inputs under their own option, and a warning before a tab with an unsaved
receipt is closed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from .conftest import Recorder, Services, open_page, send_tip, unnamed_controls

pytestmark = [pytest.mark.e2e, pytest.mark.chain]


def _in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_an_empty_tip_is_named_at_the_text_box_on_a_phone(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/")
    page.click("#submit-button")
    page.wait_for_selector("#tip-text-error:not([hidden])")
    assert "โปรดเล่าว่าเกิดอะไรขึ้น" in page.inner_text("#tip-text-error")
    # the message and the box it is about are both on screen, and the box is the one focused
    assert _in_view(page, "#tip-text-error")
    assert page.evaluate("document.activeElement.id") == "tip-text"
    assert page.get_attribute("#tip-text", "aria-invalid") == "true"
    assert "tip-text-error" in (page.get_attribute("#tip-text", "aria-describedby") or "")
    assert page.is_hidden("#error-box")  # not below the button, out of sight
    page.screenshot(path=artifacts / "30-empty-tip-phone-th.png")
    page.keyboard.type("ก")
    assert page.get_attribute("#tip-text", "aria-invalid") is None
    assert page.is_hidden("#tip-text-error")
    assert recorder.problems == []


def test_chosen_files_are_listed_without_the_native_no_file_chosen(
    tab: tuple[Any, Recorder], services: Services
) -> None:
    page, _ = tab
    open_page(page, services.url + "/")
    assert page.is_hidden("#tip-files")  # the native control (and its "No file chosen")
    assert page.is_visible("#tip-files-button")
    assert page.inner_text("#tip-files-button") == "เลือกไฟล์…"
    with page.expect_file_chooser() as chooser:
        page.click("#tip-files-button")
    chooser.value.set_files(
        [{"name": "a.txt", "mimeType": "text/plain", "buffer": b"one"}],
    )
    page.set_input_files(
        "#tip-files", files=[{"name": "b.txt", "mimeType": "text/plain", "buffer": b"two"}]
    )
    page.wait_for_function("document.querySelectorAll('#file-list li').length === 2")
    assert [n.strip() for n in page.locator("#file-list .name").all_inner_texts()] == [
        "a.txt",
        "b.txt",
    ]
    assert unnamed_controls(page) == []


def test_each_document_option_has_its_inputs_right_under_it(
    tab: tuple[Any, Recorder], services: Services
) -> None:
    page, _ = tab
    open_page(page, services.url + "/verify")
    order: list[str] = page.evaluate(
        """() => [...document.querySelectorAll(
               '#doc-mode-file, #doc-file-box, #doc-mode-text, #doc-text-box, #doc-mode-none')]
             .map((el) => el.id)"""
    )
    assert order == [
        "doc-mode-file",
        "doc-file-box",
        "doc-mode-text",
        "doc-text-box",
        "doc-mode-none",
    ]
    file_box = page.locator("#doc-file-box").bounding_box()
    none_option = page.locator("#doc-mode-none").bounding_box()
    assert file_box is not None
    assert none_option is not None
    assert file_box["y"] < none_option["y"]  # on screen too: option 2's picker above option 4


def test_closing_a_tab_with_an_unsaved_receipt_asks_first(browser: Any, services: Services) -> None:
    from playwright.sync_api import Error as PlaywrightError  # here: e2e skips without it

    context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    send_tip(page, services, "ทดสอบการเตือนก่อนปิดแท็บ")
    page.click("h1")  # browsers ask only on a page the person has used
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert not page.is_closed()

    # the receipt file is an optional extra: what must not be lost is the code, written down
    with page.expect_download() as saved:
        page.click("#download-receipt")
    assert saved.value.suggested_filename.startswith("receipt-")  # a neutral file name
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload", "beforeunload"]
    # once the reporter says the code is written down, the tab closes without a question
    page.check("#code-written")
    page.close(run_before_unload=True)
    with contextlib.suppress(PlaywrightError):  # raised once the page is gone, as it should be
        page.wait_for_timeout(1_000)  # closing is asynchronous when unload handlers run
    assert page.is_closed()
    assert dialogs == ["beforeunload", "beforeunload"]

    # following a link of the site keeps the session: no question either
    other = context.new_page()
    send_tip(other, services, "ทดสอบลิงก์ภายในเว็บไซต์")
    other.click("h1")
    other.on("dialog", answer)
    other.click("#verify-link")
    other.wait_for_url("**/verify*")
    assert dialogs == ["beforeunload", "beforeunload"]
    context.close()
