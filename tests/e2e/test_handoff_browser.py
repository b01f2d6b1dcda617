"""The human handoff round trip in two real browsers: the customer asks for a person in the chat,
an admin takes the conversation in the Inbox and replies, the reply appears in the customer's open
chat without a reload, the admin hands back, and the bot answers the next message (issue 8)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_browser import log_in
from tests.e2e.test_chat_browser import BOT, send

pytestmark = pytest.mark.slow


def test_a_person_takes_over_replies_and_hands_back(browser, app_url: str) -> None:
    customer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    try:
        customer.goto(app_url)
        send(customer, "I want to talk to a human agent please.")
        expect(customer.locator(BOT).last).to_contain_text("person from the Northwind Goods support team")

        log_in(admin, app_url)
        admin.get_by_role("tab", name="Inbox").click()
        expect(admin.locator("#inbox-list")).to_contain_text("queued")
        admin.locator("#inbox-chosen input").click()
        admin.get_by_role("option").first.click()
        expect(admin.locator("#inbox-transcript")).to_contain_text("I want to talk to a human agent please.")
        # Taking it without a name is refused: the name is what tells the people at the desk apart.
        admin.locator("#inbox-take").click()
        expect(admin.get_by_text("Type your name").first).to_be_visible()
        expect(admin.locator("#inbox-state")).to_contain_text("queued")
        admin.locator("#inbox-agent textarea").fill("Ana")
        admin.locator("#inbox-take").click()
        expect(admin.locator("#inbox-state")).to_contain_text("held by Ana")

        admin.locator("#inbox-reply textarea").fill("Hi, this is Ana from support. How can I help?")
        admin.locator("#inbox-send").click()
        expect(admin.locator("#inbox-transcript")).to_contain_text("Support agent:")

        # The customer's open chat shows the person's reply without a reload.
        expect(customer.locator(BOT).last).to_contain_text("this is Ana from support", timeout=15_000)

        admin.locator("#inbox-release").click()
        expect(admin.locator("#inbox-state")).to_contain_text("bot")

        send(customer, "How many days do I have to return something?")
        expect(customer.locator(BOT).last).to_contain_text("Sources:")
    finally:
        customer.context.close()
        admin.context.close()
