"""The prompt editor in real browsers (issue 10): an admin edits the "I don't know" reply, tries it in
the side chat, publishes it, and a customer's next out-of-scope question gets the new text; restoring
the old version brings the old text back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_admin_browser import log_in
from tests.e2e.test_chat_browser import BOT, send

pytestmark = pytest.mark.slow

NEW_REPLY = "That is outside what I know here. Ask the {{ company }} team instead."
NEW_TEXT = "That is outside what I know here. Ask the Northwind Goods team instead."
OLD_TEXT = "I'm sorry, I don't know the answer to that"
OUT_OF_SCOPE = "What is the capital of France?"
OLD_TEXT_PATTERN = re.compile(r"I'm sorry, I don't know the answer to that")
PLUS_LINE = re.compile(r"^\+That is outside what I know here", re.MULTILINE)


def customer_asks(browser: Browser, app_url: str) -> str:
    """A new visitor asks an out-of-scope question; the reply they see."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    try:
        page.goto(app_url)
        send(page, OUT_OF_SCOPE)
        reply = page.locator(BOT).last
        # Both texts name the company; the reply comes in one piece, so it is complete then.
        expect(reply).to_contain_text("Northwind Goods")
        return reply.inner_text()
    finally:
        page.context.close()


def choose(page: Page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def test_edit_try_publish_and_restore_the_no_answer_reply(browser: Browser, page: Page, app_url: str) -> None:
    assert OLD_TEXT in customer_asks(browser, app_url)

    log_in(page, app_url)
    page.get_by_role("tab", name="Prompts").click()
    choose(page, "#prompts-name", "no_answer")
    editor = page.locator("#prompts-editor textarea")
    expect(page.locator("#prompts-info")).to_contain_text("no_answer")
    expect(editor).to_have_value(OLD_TEXT_PATTERN)
    editor.fill(NEW_REPLY)
    expect(page.locator("#prompts-diff textarea")).to_have_value(PLUS_LINE)
    page.locator("#prompts-note textarea").fill("shorter, friendlier")
    page.locator("#prompts-save").click()
    expect(page.locator("#prompts-status")).to_contain_text("Saved draft v2")

    # The side chat uses the draft; customers do not see it yet.
    trial = page.locator("#prompts-trial-input textarea")
    trial.fill(OUT_OF_SCOPE)
    trial.press("Enter")
    expect(page.locator("#prompts-trial-chat")).to_contain_text(NEW_TEXT)
    expect(page.locator("#prompts-trial-chat")).to_contain_text("no_answer v2")
    assert OLD_TEXT in customer_asks(browser, app_url)

    page.locator("#prompts-publish").click()
    expect(page.locator("#prompts-status")).to_contain_text("v2 is live")
    expect(page.locator("#prompts-info")).to_contain_text("Live: v2")
    assert NEW_TEXT in customer_asks(browser, app_url)

    choose(page, "#prompts-version", "v1 · retired · the default from prompts/no_answer.md.j2")
    expect(page.locator("#prompts-shown textarea")).to_have_value(OLD_TEXT_PATTERN)
    page.locator("#prompts-publish").click()
    expect(page.locator("#prompts-status")).to_contain_text("v1 is live")
    expect(page.locator("#prompts-info")).to_contain_text("Live: v1")
    expect(page.locator("#prompts-versions")).to_contain_text("retired")
    # Publishing the live version again changes nothing, and says so.
    page.locator("#prompts-publish").click()
    expect(page.locator("#prompts-status")).to_contain_text("v1 is already live")
    assert OLD_TEXT in customer_asks(browser, app_url)
